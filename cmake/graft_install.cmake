# Install rules: headers under <prefix>/include/graft, the layer libraries,
# the `graft` command, a CMake package (find_package(graft CONFIG) gives
# graft::graft and graft::<layer>) and graft.pc for pkg-config.
include(CMakePackageConfigHelpers)

get_property(graft_layers GLOBAL PROPERTY GRAFT_LAYERS)
install(TARGETS ${graft_layers} graft_all EXPORT graftTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
if(TARGET graft)
  install(TARGETS graft RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
endif()
set(graft_header_excludes "")
if(NOT TARGET graft_dist)
  set(graft_header_excludes PATTERN dist EXCLUDE)
endif()
install(DIRECTORY graft/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/graft
  FILES_MATCHING PATTERN "*.h" ${graft_header_excludes})
install(FILES ${PROJECT_BINARY_DIR}/include/graft/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/graft)

set(graft_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/graft)
install(EXPORT graftTargets NAMESPACE graft:: DESTINATION ${graft_cmake_dir})

# What the config must find again for the exported targets to link.
set(GRAFT_CONFIG_DEPENDENCIES "find_dependency(Threads)\nfind_dependency(ZLIB)\nset(BLA_VENDOR OpenBLAS)\nfind_dependency(BLAS)")
if(TARGET graft_dist)
  # graft/dist uses MPI's C API; FindMPI looks for it only with C enabled.
  string(APPEND GRAFT_CONFIG_DEPENDENCIES "\nget_property(_graft_languages GLOBAL PROPERTY ENABLED_LANGUAGES)\nif(NOT \"C\" IN_LIST _graft_languages)\n  enable_language(C)\nendif()\nfind_dependency(MPI COMPONENTS C)")
endif()
if(GRAFT_WITH_DNNL)
  # The layers link DNNL::dnnl; the config defines it as the build did.
  install(FILES cmake/graft_find_dnnl.cmake DESTINATION ${graft_cmake_dir})
  string(APPEND GRAFT_CONFIG_DEPENDENCIES "\ninclude(\${CMAKE_CURRENT_LIST_DIR}/graft_find_dnnl.cmake)\nif(NOT GRAFT_DNNL_FOUND)\n  set(graft_FOUND FALSE)\n  set(graft_NOT_FOUND_MESSAGE \"graft was built with oneDNN, which was not found (oneapi/dnnl/dnnl.hpp, libdnnl); install libdnnl-dev\")\n  return()\nendif()")
endif()
configure_package_config_file(cmake/graftConfig.cmake.in ${PROJECT_BINARY_DIR}/graftConfig.cmake
  INSTALL_DESTINATION ${graft_cmake_dir})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/graftConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/graftConfig.cmake ${PROJECT_BINARY_DIR}/graftConfigVersion.cmake
  DESTINATION ${graft_cmake_dir})

# graft.pc: static libraries, so the link line lists every layer, highest
# first, then what they need.
set(GRAFT_PC_LIBS "")
list(REVERSE graft_layers)
foreach(layer IN LISTS graft_layers)
  string(APPEND GRAFT_PC_LIBS " -l${layer}")
endforeach()
set(GRAFT_PC_PRIVATE_LIBS "-lopenblas -lz -pthread")
if(GRAFT_WITH_DNNL)
  string(PREPEND GRAFT_PC_PRIVATE_LIBS "-ldnnl ")
endif()
# The prefix is found from the .pc file's own place, so the package can be
# installed with `cmake --install --prefix` anywhere and still be right.
file(RELATIVE_PATH GRAFT_PC_TO_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(cmake/graft.pc.in ${PROJECT_BINARY_DIR}/graft.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/graft.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
