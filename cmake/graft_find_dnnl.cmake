# oneDNN 2.x (Debian's libdnnl-dev) as the imported target DNNL::dnnl, found
# by its header and library; sets GRAFT_DNNL_FOUND. Used by the build (for
# GRAFT_WITH_DNNL) and by the installed graftConfig.cmake of a build with it.
#
# oneDNN's own package config is not used: Debian's loads it with its GPU
# runtime, which needs the OpenCL development files and stops the whole
# configure with an error where they are missing, although graft uses only
# the CPU engine. oneDNN 3 changed the C++ API (no operation descriptors),
# so only major version 2 counts as found.
if(TARGET DNNL::dnnl)
  set(GRAFT_DNNL_FOUND TRUE)
  return()
endif()
find_path(GRAFT_DNNL_INCLUDE_DIR oneapi/dnnl/dnnl.hpp)
find_library(GRAFT_DNNL_LIBRARY NAMES dnnl)
set(GRAFT_DNNL_FOUND FALSE)
if(GRAFT_DNNL_INCLUDE_DIR AND GRAFT_DNNL_LIBRARY AND EXISTS "${GRAFT_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h")
  file(STRINGS "${GRAFT_DNNL_INCLUDE_DIR}/oneapi/dnnl/dnnl_version.h" _graft_dnnl_major
       REGEX "^#define DNNL_VERSION_MAJOR [0-9]+")
  string(REGEX REPLACE "^#define DNNL_VERSION_MAJOR ([0-9]+).*" "\\1" _graft_dnnl_major "${_graft_dnnl_major}")
  if(_graft_dnnl_major STREQUAL "2")
    set(GRAFT_DNNL_FOUND TRUE)
    add_library(DNNL::dnnl UNKNOWN IMPORTED)
    set_target_properties(DNNL::dnnl PROPERTIES IMPORTED_LOCATION "${GRAFT_DNNL_LIBRARY}"
                                                INTERFACE_INCLUDE_DIRECTORIES "${GRAFT_DNNL_INCLUDE_DIR}")
  endif()
  unset(_graft_dnnl_major)
endif()
