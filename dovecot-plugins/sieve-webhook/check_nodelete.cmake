# check_nodelete.cmake — CTest check that the Sieve plugin carries DF_1_NODELETE (linked with
# -z nodelete): Pigeonhole dlcloses its plugins after every delivery, and without the flag each
# delivery would load the library (and libstdc++) again and lose the configuration cache.
# Usage: cmake -DPLUGIN=path/to/lib90_sieve_mailward_plugin.so -P check_nodelete.cmake
execute_process(COMMAND readelf -d "${PLUGIN}" OUTPUT_VARIABLE dyn RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "readelf -d ${PLUGIN} failed (${rc})")
endif()
if(NOT dyn MATCHES "FLAGS_1[^\n]*NODELETE")
  message(FATAL_ERROR "${PLUGIN} is not marked NODELETE (link it with -Wl,-z,nodelete)")
endif()
message(STATUS "${PLUGIN}: NODELETE")
