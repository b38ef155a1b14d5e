# simpul_warnings: the warning set every target links privately.
add_library(simpul_warnings INTERFACE)
target_compile_options(simpul_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wformat=2 -Wstrict-prototypes
  -Wmissing-prototypes -Wno-unused-parameter -Werror)
target_compile_definitions(simpul_warnings INTERFACE _GNU_SOURCE)
