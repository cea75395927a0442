# Interface targets carrying our warnings and sanitizer flags. They are linked
# only into fraglab's own targets, never into third-party code (llhttp).
add_library(fraglab_warnings INTERFACE)
target_compile_options(fraglab_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wno-unused-parameter)
target_compile_definitions(fraglab_warnings INTERFACE _GNU_SOURCE)
if(FRAGLAB_WERROR)
  target_compile_options(fraglab_warnings INTERFACE -Werror)
endif()

add_library(fraglab_sanitize INTERFACE)
if(FRAGLAB_SANITIZE)
  if(FRAGLAB_SANITIZE MATCHES "thread" AND FRAGLAB_SANITIZE MATCHES "address")
    message(FATAL_ERROR "FRAGLAB_SANITIZE: thread cannot be combined with address")
  endif()
  target_compile_options(fraglab_sanitize INTERFACE
    -fsanitize=${FRAGLAB_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(fraglab_sanitize INTERFACE -fsanitize=${FRAGLAB_SANITIZE})
endif()

# Fuzzing (scripts/fuzz.sh): coverage for libFuzzer in every fraglab target;
# the harnesses link -fsanitize=fuzzer themselves (tests/fuzz).
if(FRAGLAB_FUZZ)
  target_compile_options(fraglab_sanitize INTERFACE -fsanitize=fuzzer-no-link)
endif()

# Every fraglab target links this one.
add_library(fraglab_flags INTERFACE)
target_link_libraries(fraglab_flags INTERFACE fraglab_warnings fraglab_sanitize)
