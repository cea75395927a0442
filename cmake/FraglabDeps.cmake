# Third-party dependencies, all from Debian 12 packages (scripts/deps.sh).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
pkg_check_modules(CJSON REQUIRED IMPORTED_TARGET libcjson)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)

# llhttp ships as C sources (Debian's node-llhttp); build them as our own
# static library without our warnings. Strict mode makes the parser reject
# lenient framing that RFC 9112 forbids.
set(LLHTTP_SRC_DIR /usr/share/llhttp CACHE PATH "llhttp C sources")
set(LLHTTP_INC_DIR /usr/share/include/llhttp CACHE PATH "llhttp header")
if(NOT EXISTS ${LLHTTP_SRC_DIR}/llhttp.c OR NOT EXISTS ${LLHTTP_INC_DIR}/llhttp.h)
  message(FATAL_ERROR "llhttp sources not found in ${LLHTTP_SRC_DIR}: install node-llhttp")
endif()
add_library(llhttp STATIC
  ${LLHTTP_SRC_DIR}/llhttp.c ${LLHTTP_SRC_DIR}/api.c ${LLHTTP_SRC_DIR}/http.c)
target_include_directories(llhttp SYSTEM PUBLIC ${LLHTTP_INC_DIR})
target_compile_definitions(llhttp PUBLIC LLHTTP_STRICT_MODE=1)
target_compile_options(llhttp PRIVATE -w)
target_link_libraries(llhttp PRIVATE fraglab_sanitize)

# The allocator libraries are never linked: the program preloads the one it
# is asked for (alloc/select.c). Their paths are recorded for tests and docs.
find_library(FRAGLAB_JEMALLOC_SO NAMES libjemalloc.so.2 jemalloc)
find_library(FRAGLAB_MIMALLOC_SO NAMES libmimalloc.so.2 mimalloc)
find_library(FRAGLAB_TCMALLOC_SO NAMES libtcmalloc_minimal.so.4 tcmalloc_minimal)
