# graft_layer(NAME SOURCES ... DEPS ...): a static library for one layer of
# DESIGN.md section 1, with includes rooted at the repository.
function(graft_layer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(graft_${name} STATIC ${ARG_SOURCES})
  target_include_directories(graft_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(graft_${name} PUBLIC ${ARG_DEPS})
  add_library(graft::${name} ALIAS graft_${name})
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
