# SIMPUL_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer (the `asan` preset); any UB report aborts the test.
option(SIMPUL_SANITIZE "build with address and undefined sanitizers" OFF)
if(SIMPUL_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=all
                      -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
