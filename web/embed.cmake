# web/embed.cmake: embed the dashboard (web/*.html, *.js, *.css, *.svg) into the flexbed_market
# library as C strings (cmake/embed.cmake), so that `flexbed serve` needs no files at run time
# and fetches nothing from anywhere (it works on an isolated lab network). Editing or adding a
# file regenerates the table on the next build. Sets WEB_EMBED_C to the generated file, which
# defines mkt_web_files[] and mkt_web_file_count (market/api.c declares them); each file's
# type is its extension ("html", "js", "css", "svg").
include(${CMAKE_SOURCE_DIR}/cmake/embed.cmake)
file(GLOB _web_files CONFIGURE_DEPENDS
     ${CMAKE_SOURCE_DIR}/web/*.html ${CMAKE_SOURCE_DIR}/web/*.js ${CMAKE_SOURCE_DIR}/web/*.css
     ${CMAKE_SOURCE_DIR}/web/*.svg)
list(SORT _web_files)
set(_entries "")
foreach(_f ${_web_files})
  get_filename_component(_name ${_f} NAME)
  get_filename_component(_ext ${_f} LAST_EXT)
  string(SUBSTRING "${_ext}" 1 -1 _ext)
  list(APPEND _entries "${_f}|\"/${_name}\", \"${_ext}\"")
endforeach()
# The signing libraries from npm (web/package.json; `make deps` runs npm ci in web/), served
# under /vendor/ with their relative imports intact. Without them the page signs only through
# a wallet (docs/dashboard.md).
set(_nm ${CMAKE_SOURCE_DIR}/web/node_modules/@noble)
if(EXISTS ${_nm}/secp256k1/index.js)
  list(APPEND _entries "${_nm}/secp256k1/index.js|\"/vendor/noble-secp256k1.js\", \"js\"")
  foreach(_h sha3 sha2 hmac _md _u64 utils)
    list(APPEND _entries "${_nm}/hashes/${_h}.js|\"/vendor/noble-hashes/${_h}.js\", \"js\"")
  endforeach()
else()
  message(STATUS "web: no web/node_modules (npm ci in web/): the dashboard signs only through a wallet")
endif()
set(WEB_EMBED_C ${CMAKE_BINARY_DIR}/web_files.c)
flexbed_embed(${WEB_EMBED_C} mkt_web_file "const char *path, *type, *text;" mkt_web_files
              mkt_web_file_count ${_entries})
