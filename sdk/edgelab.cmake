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
# exceptions against libc++ for wasm32. Every guest builds with
# -Wall -Wextra -Werror: a guest warning is as much a bug as a host one.
#
# DWARF: guests carry it so the engine names call sites with file:line
# (src/engine/call_sites.h; race reports show them), and the "name" section
# stays for trap messages. -gline-tables-only, not -g: it has what a call
# site needs (line rows, and the inlined-subroutine entries with their call
# lines, so inlined frames expand) at a third to a sixth of -g's size in the
# C++ examples. It names functions without class or namespace, so the engine
# takes the physical frame's name from the name section. The code is byte for
# byte the same as without it (-fdebug-info-for-profiling, which would add
# linkage names, changes the code: not used). Linking no longer passes --strip-debug, so the DWARF
# that Debian's wasi-libc and libc++ objects carry comes along too (wasm-ld
# strips all or nothing, and llvm-objcopy-14 cannot strip those archives);
# that is most of the growth. Sizes of build/examples/*.wasm, 2026-11-27,
# before (stripped) -> after (bytes; of the growth, about 296 KB is the
# libraries' DWARF in a C++ worker, 31-96 KB the worker's own):
#   hello 361 -> 1,374; counter-broken 26,674 -> 353,859;
#   counter-cas 32,724 -> 372,083; counter-do 37,465 -> 395,302;
#   lock 52,061 -> 445,781; counter-lock 45,683 -> 419,209.
# The interpreter never sees custom sections, so instantiation is unchanged
# (45-78 us per isolate for the C++ examples either way, within this VM's
# noise) and so is Module::Load (2.2-4.4 ms, likewise); the engine keeps a
# module's bytes in memory for its DWARF (call_sites.h).
#
# GNU dialects (gnu17, gnu++20) because strict ones hide POSIX names such as
# clock_gettime in wasi-libc's headers.
#
# Speed: guests run on an interpreter, where the cost of a request is the wasm
# instructions it executes (and the fuel, an upper bound on them, that `cpu=`
# shows). Measured with a per-function instruction profile of examples/
# counter-do, lock and counter-lock, 2026-11-27:
#   -mbulk-memory  lets memcpy/memset become memory.copy/memory.fill, which the
#                  interpreter runs natively (edgelab_memory.c says how much);
#   -flto          inlines across the guest and the SDK runtime (operator new
#                  into its callers, the handler into the export): 6-14 % fewer
#                  instructions per request, 3-10 % more fuel (bigger regions);
#   -O2            -O3 ran the same instructions (within 0.5 %), -O1 5-9 %
#                  more, -Os 7-11 %, -Oz 65-95 %; -fno-rtti changed nothing.
# The wasm-ld of Debian's lld 14 does the LTO; wasi-libc and libc++ stay
# prebuilt (not bitcode), hence edgelab_memory.c and edgelab_new.cc.
#
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
  set(common --target=wasm32-wasi -O2 -flto -mbulk-memory -Wno-unused-command-line-argument
             ${W_FLAGS})

  # The guest's sources, then the SDK's runtime: edgelab_memory.c for every guest, edgelab_new.cc
  # for a C++ one (each file says why). Their objects come before libc.a and libc++ on the link
  # line, so their definitions win.
  set(sources)
  set(has_cxx FALSE)
  foreach(s ${W_SOURCES})
    get_filename_component(abs ${s} ABSOLUTE)
    list(APPEND sources ${abs})
    if(abs MATCHES "\\.(cc|cpp|cxx)$")
      set(has_cxx TRUE)
    endif()
  endforeach()
  list(APPEND sources ${EDGELAB_SDK_DIR}/edgelab_memory.c)
  if(has_cxx)
    list(APPEND sources ${EDGELAB_SDK_DIR}/edgelab_new.cc)
  endif()

  set(linker ${EDGELAB_WASM_CC})
  set(objs)
  foreach(abs ${sources})
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
    # SIMD for the SDK's string functions only: guest code stays free of it unless its FLAGS ask.
    set(extra)
    if(abs STREQUAL ${EDGELAB_SDK_DIR}/edgelab_memory.c)
      set(extra -msimd128)
    endif()
    add_custom_command(
      OUTPUT ${obj}
      COMMAND ${compiler} ${common} ${lang} ${extra} -gline-tables-only -Wall -Wextra -Werror
              -I${EDGELAB_SDK_DIR}
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
    COMMAND ${linker} ${common} -mexec-model=reactor -Wl,--stack-first -o ${out} ${objs}
    DEPENDS ${objs}
    COMMENT "Linking guest ${name}.wasm"
    VERBATIM)
  add_custom_target(${name} ALL DEPENDS ${out})
  set_property(TARGET ${name} PROPERTY EDGELAB_WASM ${out})
endfunction()
