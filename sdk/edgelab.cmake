# sdk/edgelab.cmake: build wasm32-wasi guest workers inside the host build.
#
#   edgelab_add_worker(NAME SOURCES src.c|src.cc ... [OUTPUT_DIR dir] [FLAGS ...])
#
# makes target NAME producing ${OUTPUT_DIR}/${NAME}.wasm (default:
# ${CMAKE_BINARY_DIR}/examples), compiled by clang for wasm32-wasi as a WASI
# reactor against sdk/. FLAGS go to every compile and to the link.
#
# The flags are the ones that work with Debian 12's clang 14 (see DESIGN.md):
# --stack-first so a stack overflow traps instead of corrupting static data;
# -mexec-model=reactor so _initialize runs once per isolate; C++ without
# exceptions against libc++ for wasm32; --strip-debug drops the DWARF that
# Debian's wasi-libc objects carry (the "name" section stays, so trap messages
# still name the guest function). Every guest builds with
# -Wall -Wextra -Werror: a guest warning is as much a bug as a host one.
#
# GNU dialects (gnu17, gnu++20) because strict ones hide POSIX names such as
# clock_gettime in wasi-libc's headers.
# Each source compiles to its own object with its own compiler (C sources with
# clang, C++ with clang++, so a worker may mix them) and a depfile, so editing
# any header a guest includes rebuilds it; the link uses clang++ when any source
# is C++ (it brings libc++ and libc++abi).
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
  set(obj_dir ${CMAKE_CURRENT_BINARY_DIR}/${name}.objs)
  file(MAKE_DIRECTORY ${obj_dir})
  # -Wl,... in FLAGS is unused when compiling, -D... when linking: not an error.
  set(common --target=wasm32-wasi -O2 -Wno-unused-command-line-argument ${W_FLAGS})

  set(linker ${EDGELAB_WASM_CC})
  set(objs)
  foreach(s ${W_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    file(RELATIVE_PATH rel ${CMAKE_CURRENT_SOURCE_DIR} ${abs})
    string(MAKE_C_IDENTIFIER ${rel} stem)
    set(obj ${obj_dir}/${stem}.o)
    if(abs MATCHES "\\.(cc|cpp|cxx)$")
      set(compiler ${EDGELAB_WASM_CXX})
      set(lang -std=gnu++20 -fno-exceptions)
      set(linker ${EDGELAB_WASM_CXX})
    else()
      set(compiler ${EDGELAB_WASM_CC})
      set(lang -std=gnu17)
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${compiler} ${common} ${lang} -Wall -Wextra -Werror -I${EDGELAB_SDK_DIR}
              -MD -MF ${obj}.d -c ${abs} -o ${obj}
      DEPENDS ${abs}
      DEPFILE ${obj}.d
      COMMENT "Compiling guest ${name}: ${rel}"
      VERBATIM)
    list(APPEND objs ${obj})
  endforeach()

  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${W_OUTPUT_DIR}
    COMMAND ${linker} ${common} -mexec-model=reactor -Wl,--stack-first -Wl,--strip-debug
            -o ${out} ${objs}
    DEPENDS ${objs}
    COMMENT "Linking guest ${name}.wasm"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${out})
  set_property(TARGET ${name} PROPERTY EDGELAB_WASM ${out})
endfunction()
