# Cross-compile with Debian's own cross compilers (crossbuild-essential-ARCH)
# against multiarch -dev packages (libfoo-dev:ARCH). Those install into /
# (/usr/lib/<triplet>, /usr/include/<triplet>), not into a separate sysroot.
#
#   cmake -B build-arm64 -DTETHER_CROSS_ARCH=arm64 \
#         -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-debian-cross.cmake
#
# One file for every architecture so the Debian arch -> triplet -> qemu
# mapping lives in one place.

set(TETHER_CROSS_ARCH arm64 CACHE STRING "Debian architecture to build for: arm64 or armhf")
# try_compile() projects read this file again but do not see the cache.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES TETHER_CROSS_ARCH)

if(TETHER_CROSS_ARCH STREQUAL "arm64")
  set(CMAKE_SYSTEM_PROCESSOR aarch64)
  set(_triplet aarch64-linux-gnu)
  set(_qemu aarch64)
elseif(TETHER_CROSS_ARCH STREQUAL "armhf")
  set(CMAKE_SYSTEM_PROCESSOR arm)
  set(_triplet arm-linux-gnueabihf)
  set(_qemu arm)
else()
  message(FATAL_ERROR "TETHER_CROSS_ARCH='${TETHER_CROSS_ARCH}': expected arm64 or armhf")
endif()

set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${_triplet}-gcc)
set(CMAKE_CXX_COMPILER ${_triplet}-g++)
set(CMAKE_LIBRARY_ARCHITECTURE ${_triplet})

# The root is / because multiarch libraries live there; what keeps the
# host's libraries out is CMAKE_LIBRARY_ARCHITECTURE (lib/<triplet>).
# /usr/<triplet> holds the cross libc. Programs (python3, qemu) are the host's.
set(CMAKE_FIND_ROOT_PATH /usr/${_triplet} /)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# Only the target's .pc files, or pkg_check_modules would hand back the
# host's libuv/libcurl. Set on every configure, as ENV does not persist.
set(ENV{PKG_CONFIG_LIBDIR} /usr/lib/${_triplet}/pkgconfig:/usr/share/pkgconfig)
set(ENV{PKG_CONFIG_PATH} "")

# Lets ctest run target binaries. -L makes qemu load the cross libc first;
# other libraries fall back to the multiarch ones under /.
find_program(TETHER_QEMU NAMES qemu-${_qemu}-static qemu-${_qemu})
if(TETHER_QEMU)
  set(CMAKE_CROSSCOMPILING_EMULATOR ${TETHER_QEMU} -L /usr/${_triplet})
endif()
