find_package(GTest REQUIRED)
include(GoogleTest)

# mailward_test(NAME SOURCES... LIBS ...): a GoogleTest executable, each test registered with CTest.
function(mailward_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main mailward_warnings)
  target_compile_definitions(${name} PRIVATE
    MAILWARD_CORPORA_DEFAULT="${MAILWARD_CORPORA}"
    MAILWARD_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS unit)
endfunction()

# mailward_fuzz_target(NAME SOURCE LIBS ...): with MAILWARD_FUZZ a libFuzzer binary; otherwise the same
# entry point linked with a driver that replays the seed files, so every target is always built and run.
function(mailward_fuzz_target name source)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  set(target fuzz_${name})
  if(MAILWARD_FUZZ)
    add_executable(${target} ${source})
    target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(${target} ${source} ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cpp)
    set(seeds ${PROJECT_SOURCE_DIR}/tests/fuzz/seeds/${name})
    add_test(NAME fuzz_replay_${name} COMMAND ${target} ${seeds})
    set_tests_properties(fuzz_replay_${name} PROPERTIES LABELS fuzz-replay)
  endif()
  target_link_libraries(${target} PRIVATE ${ARG_LIBS} mailward_warnings)
  set_property(GLOBAL APPEND PROPERTY MAILWARD_FUZZ_TARGETS ${name})
endfunction()
