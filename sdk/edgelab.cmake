# sdk/edgelab.cmake: build wasm32-wasi guest workers inside the host build.
#
#   edgelab_add_worker(NAME SOURCES src.c|src.cc ... [OUTPUT_DIR dir] [FLAGS ...])
#
# makes target NAME producing ${OUTPUT_DIR}/${NAME}.wasm (default:
# ${CMAKE_BINARY_DIR}/examples), compiled by clang for wasm32-wasi as a WASI
# reactor against sdk/. The flags are the ones that work with Debian 12's
# clang 14 (see DESIGN.md): --stack-first so a stack overflow traps instead of
# corrupting static data; -mexec-model=reactor so _initialize runs once per
# isolate; C++ without exceptions against libc++ for wasm32.
find_program(EDGELAB_WASM_CC NAMES clang-14 clang REQUIRED)
find_program(EDGELAB_WASM_CXX NAMES clang++-14 clang++ REQUIRED)
set(EDGELAB_SDK_DIR ${CMAKE_CURRENT_LIST_DIR})

function(edgelab_add_worker name)
  cmake_parse_arguments(W "" "OUTPUT_DIR" "SOURCES;FLAGS" ${ARGN})
  if(NOT W_SOURCES)
    message(FATAL_ERROR "edgelab_add_worker(${name}): no SOURCES")
  endif()
  if(NOT W_OUTPUT_DIR)
    set(W_OUTPUT_DIR ${CMAKE_BINARY_DIR}/examples)
  endif()
  set(out ${W_OUTPUT_DIR}/${name}.wasm)
  set(cxx OFF)
  set(srcs)
  foreach(s ${W_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND srcs ${abs})
    if(s MATCHES "\\.(cc|cpp|cxx)$")
      set(cxx ON)
    endif()
  endforeach()
  set(flags --target=wasm32-wasi -O2 -mexec-model=reactor -Wl,--stack-first
      -Wall -Wextra -Werror -I${EDGELAB_SDK_DIR} ${W_FLAGS})
  set(compiler ${EDGELAB_WASM_CC})
  if(cxx)
    set(compiler ${EDGELAB_WASM_CXX})
    list(APPEND flags -std=c++20 -fno-exceptions)
  endif()
  file(GLOB sdk_headers ${EDGELAB_SDK_DIR}/*.h ${EDGELAB_SDK_DIR}/*.hpp)
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${W_OUTPUT_DIR}
    COMMAND ${compiler} ${flags} -o ${out} ${srcs}
    DEPENDS ${srcs} ${sdk_headers}
    COMMENT "Building guest ${name}.wasm"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${out})
  set_property(TARGET ${name} PROPERTY EDGELAB_WASM ${out})
endfunction()
