# Read by ctest before it runs anything (the tests directory's
# TEST_INCLUDE_FILES, tests/CMakeLists.txt): lists the tests in the test
# binary and adds a ctest for each batch of them, so that ctest starts a
# process per batch, not per test. Under AddressSanitizer a process of the
# test binary costs some 0.45 s to start and stop (the median test took
# 0.47 s there), which over 550 tests was most of the sanitizer run's
# unit-test time.
#
# A batch is at most BATCH tests of one suite, in the binary's order, named
# after the suite ("LedgerTest/2" is LedgerTest's second batch; a suite that
# fits in one batch is named as it is). The suites in SOLO are a ctest per
# test ("LedgerPropertyTest.Seeds1To2500"): their tests are long and run in
# parallel so. One test runs alone with
#   tests/billsim_tests --gtest_filter=Suite.Test
#
# In: EXE (the test binary), WORKING_DIR, BATCH, SOLO (a list of suites).
if(NOT EXISTS "${EXE}")
  add_test(billsim_tests_NOT_BUILT billsim_tests_NOT_BUILT)
  return()
endif()
execute_process(COMMAND "${EXE}" --gtest_list_tests
  WORKING_DIRECTORY "${WORKING_DIR}" TIMEOUT 60
  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${EXE} --gtest_list_tests failed (${rc}): ${errors}")
endif()

set(suite "")
set(tests "")
set(batches_of_suite 0)
# Adds the ctest for the tests gathered so far (NAME: the ctest's name).
macro(billsim_add_batch name)
  list(JOIN tests ":" filter)
  add_test("${name}" "${EXE}" "--gtest_filter=${filter}")
  set_tests_properties("${name}" PROPERTIES WORKING_DIRECTORY "${WORKING_DIR}")
  set(tests "")
endmacro()
# Ends a suite: its last batch, named after the suite alone when it was the
# only one.
macro(billsim_end_suite)
  if(tests)
    if(batches_of_suite EQUAL 0)
      billsim_add_batch("${suite}")
    else()
      math(EXPR batches_of_suite "${batches_of_suite} + 1")
      billsim_add_batch("${suite}/${batches_of_suite}")
    endif()
  endif()
  set(batches_of_suite 0)
endmacro()

string(REPLACE "\n" ";" lines "${listing}")
foreach(line IN LISTS lines)
  # A parameterized test's line ends in "  # GetParam() = ...".
  string(REGEX REPLACE " *#.*$" "" line "${line}")
  if(line MATCHES "^([A-Za-z0-9_/]+)\\.$")
    billsim_end_suite()
    set(suite "${CMAKE_MATCH_1}")
  elseif(line MATCHES "^  ([A-Za-z0-9_/]+)$" AND suite)
    set(test "${suite}.${CMAKE_MATCH_1}")
    list(FIND SOLO "${suite}" solo)  # (ctest sets no policy: no IN_LIST)
    if(solo GREATER -1)
      set(tests "${test}")
      billsim_add_batch("${test}")
    else()
      list(APPEND tests "${test}")
      list(LENGTH tests n)
      if(n EQUAL BATCH)
        math(EXPR batches_of_suite "${batches_of_suite} + 1")
        billsim_add_batch("${suite}/${batches_of_suite}")
      endif()
    endif()
  endif()
endforeach()
billsim_end_suite()
