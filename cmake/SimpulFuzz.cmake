# SimpulFuzz.cmake: libFuzzer harnesses built with clang (the main build may
# use gcc) straight from their sources, and the two ctest tests of each:
#
#   <name>_fuzz_test        runs the harness for SECONDS (label fuzz) from the
#                           seed corpus, writing new inputs and crash files
#                           under the build tree only;
#   <name>_fuzz_regression  runs every seed and every file of REGRESSIONS
#                           once (-runs=0; label unit): crashes found earlier
#                           stay fixed.
#
# Without clang both tests skip (exit 77) with a message saying what to install.
# Warnings are shown but not fatal here: the main (gcc) build is the -Werror
# one, and a clang-only warning in shared code must not break everyone's build.
# Only the listed sources are dependencies: touch a harness after changing a
# header it includes (or rebuild the *_fuzz_harness target).
#
# simpul_fuzz_harness(<name>
#   SOURCES <c files...>            harness + the code under test, absolute paths
#   [INCLUDE_TARGETS <targets...>]  whose include directories (transitive) to use
#   [INCLUDES <dirs...>]            extra include directories
#   [LIBS <link items...>]          e.g. ${JANSSON_LINK_LIBRARIES}
#   [DEPENDS <targets...>]          built first (e.g. generated headers)
#   SEEDS <dir>                     seed corpus (read only)
#   [REGRESSIONS <dir>]             crash inputs kept as regression tests
#   [MAX_LEN <bytes>])              default 4096
find_program(SIMPUL_CLANG NAMES clang clang-14)
set(SIMPUL_FUZZ_SECONDS 15 CACHE STRING "how long each *_fuzz_test runs, seconds")

function(simpul_fuzz_harness name)
  cmake_parse_arguments(F "" "SEEDS;REGRESSIONS;MAX_LEN"
    "SOURCES;INCLUDE_TARGETS;INCLUDES;LIBS;DEPENDS" ${ARGN})
  if(NOT F_MAX_LEN)
    set(F_MAX_LEN 4096)
  endif()
  if(NOT SIMPUL_CLANG)
    foreach(t ${name}_fuzz_test ${name}_fuzz_regression)
      add_test(NAME ${t} COMMAND sh -c
        "echo 'SKIP: clang with libFuzzer not found; install clang libclang-rt-14-dev'; exit 77")
      set_tests_properties(${t} PROPERTIES LABELS fuzz SKIP_RETURN_CODE 77)
    endforeach()
    return()
  endif()

  set(incs "")
  foreach(t IN LISTS F_INCLUDE_TARGETS)
    list(APPEND incs "-I$<JOIN:$<TARGET_PROPERTY:${t},INCLUDE_DIRECTORIES>,$<SEMICOLON>-I>")
  endforeach()
  foreach(d IN LISTS F_INCLUDES)
    list(APPEND incs -I${d})
  endforeach()
  set(out ${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzz)
  add_custom_command(OUTPUT ${out}
    COMMAND ${SIMPUL_CLANG} -std=gnu17 -g -O1 -D_GNU_SOURCE -Wall -Wextra
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
      ${incs} ${F_SOURCES} ${F_LIBS} -lpthread -o ${out}
    DEPENDS ${F_SOURCES} ${F_DEPENDS}
    COMMENT "building ${name}_fuzz with clang and libFuzzer"
    COMMAND_EXPAND_LISTS VERBATIM)
  add_custom_target(${name}_fuzz_harness ALL DEPENDS ${out})
  if(F_DEPENDS)
    add_dependencies(${name}_fuzz_harness ${F_DEPENDS})
  endif()

  # Fuzzing: new inputs go to a scratch corpus in the build tree (first
  # directory), the seeds are only read; a crash file lands in work/.
  set(work ${CMAKE_CURRENT_BINARY_DIR}/fuzz_work/${name})
  file(MAKE_DIRECTORY ${work}/corpus)
  add_test(NAME ${name}_fuzz_test
    COMMAND ${out} -max_total_time=${SIMPUL_FUZZ_SECONDS} -max_len=${F_MAX_LEN}
      -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=${work}/
      ${work}/corpus ${F_SEEDS})
  set_tests_properties(${name}_fuzz_test PROPERTIES LABELS fuzz TIMEOUT 300
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")

  # Regressions: every seed and every kept crash input, each run once.
  set(dirs ${F_SEEDS})
  if(F_REGRESSIONS AND IS_DIRECTORY ${F_REGRESSIONS})
    list(APPEND dirs ${F_REGRESSIONS})
  endif()
  add_test(NAME ${name}_fuzz_regression COMMAND ${out} -runs=0 ${dirs})
  set_tests_properties(${name}_fuzz_regression PROPERTIES LABELS "unit;fuzz" TIMEOUT 120
    ENVIRONMENT "ASAN_OPTIONS=detect_leaks=1")
endfunction()
