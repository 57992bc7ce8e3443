# ocpp_schema_embed.cmake: embed the OCPP 1.6 JSON schemas (hil/ocpp16-schemas/*.json) into
# the flexbed_hil library as C strings (cmake/embed.cmake), so that the validator needs no files
# at run time. Editing or adding a schema regenerates the table on the next build. Sets
# OCPP_SCHEMA_EMBED_C to the generated file, which defines hil_ocpp_embedded_schemas[] and
# hil_ocpp_embedded_schema_count (hil/ocpp_schema.c declares them).
include(${CMAKE_SOURCE_DIR}/cmake/embed.cmake)
file(GLOB _ocpp_schema_files CONFIGURE_DEPENDS
     ${CMAKE_CURRENT_SOURCE_DIR}/ocpp16-schemas/*.json)
list(SORT _ocpp_schema_files)
set(_entries "")
foreach(_f ${_ocpp_schema_files})
  get_filename_component(_name ${_f} NAME_WE)
  list(APPEND _entries "${_f}|\"${_name}\"")
endforeach()
set(OCPP_SCHEMA_EMBED_C ${CMAKE_CURRENT_BINARY_DIR}/ocpp16_schemas.c)
flexbed_embed(${OCPP_SCHEMA_EMBED_C} hil_ocpp_embedded_schema "const char *name; const char *text;"
              hil_ocpp_embedded_schemas hil_ocpp_embedded_schema_count ${_entries})
