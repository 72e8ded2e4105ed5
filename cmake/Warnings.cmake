# Warnings are errors in every target of this project (not in third-party code).
add_library(mailward_warnings INTERFACE)
target_compile_options(mailward_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Werror
  -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Wunused
  -Woverloaded-virtual -Wconversion -Wsign-conversion -Wnull-dereference
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  target_compile_options(mailward_warnings INTERFACE
    -Wmisleading-indentation -Wduplicated-cond -Wlogical-op)
endif()
