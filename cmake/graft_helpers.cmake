# graft_layer(NAME SOURCES ... DEPS ... [PRIVATE_DEPS ...]): a static library
# for one layer of docs/architecture.md, with includes rooted at the
# repository (installed: rooted at <prefix>/include). DEPS are the layers and
# libraries its headers use; PRIVATE_DEPS only its sources. Exported as
# graft::NAME and collected into graft::graft.
function(graft_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(graft_${name} STATIC ${ARG_SOURCES})
  target_include_directories(graft_${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
    $<BUILD_INTERFACE:${PROJECT_BINARY_DIR}/include>
    $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
  target_link_libraries(graft_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  # Position-independent, so the libraries link into shared objects too
  # (the Python module, a user's plugin).
  set_target_properties(graft_${name} PROPERTIES EXPORT_NAME ${name} POSITION_INDEPENDENT_CODE ON)
  add_library(graft::${name} ALIAS graft_${name})
  set_property(GLOBAL APPEND PROPERTY GRAFT_LAYERS graft_${name})
endfunction()

# graft_test(NAME SOURCES ... DEPS ...): one GoogleTest program, its cases
# registered with CTest one by one.
function(graft_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  gtest_discover_tests(${name} DISCOVERY_MODE PRE_TEST
    PROPERTIES ENVIRONMENT "GRAFT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()

# How MPI tests launch, in one place. Open MPI refuses to run as root (CI
# runs as root) and to start more processes than cores (--oversubscribe);
# its environment variables say both, and make waiting ranks yield their
# core to the others. MPICH ignores them. In sanitizer builds the leak check
# is off for MPI programs (AddressSanitizer and UBSan stay on): Open MPI keeps
# allocations past MPI_Finalize in components it has unloaded, which cannot
# be symbolised to suppress; every other suite checks graft's own leaks.
set(GRAFT_MPIEXEC_FLAGS ${MPIEXEC_PREFLAGS})
set(GRAFT_MPI_ENVIRONMENT
  "OMPI_ALLOW_RUN_AS_ROOT=1;OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1;OMPI_MCA_rmaps_base_oversubscribe=1;OMPI_MCA_mpi_yield_when_idle=1;LSAN_OPTIONS=detect_leaks=0;GRAFT_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# graft_mpi_test(NAME RANKS N TIMEOUT S COMMAND program args...): runs the
# program under mpiexec with N processes as one CTest entry labelled `mpi`;
# the timeout turns a hang into a failure.
function(graft_mpi_test name)
  cmake_parse_arguments(ARG "" "RANKS;TIMEOUT" "COMMAND" ${ARGN})
  add_test(NAME ${name}
           COMMAND ${MPIEXEC_EXECUTABLE} ${MPIEXEC_NUMPROC_FLAG} ${ARG_RANKS} ${GRAFT_MPIEXEC_FLAGS} ${ARG_COMMAND})
  set_tests_properties(${name} PROPERTIES LABELS mpi TIMEOUT ${ARG_TIMEOUT} PROCESSORS ${ARG_RANKS}
                       ENVIRONMENT "${GRAFT_MPI_ENVIRONMENT}")
endfunction()
