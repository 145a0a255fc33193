# Installs an attnkit build tree into a scratch prefix, then configures,
# builds and runs the downstream project against that prefix.
# Run as: cmake -DATTNKIT_BUILD_DIR=... -DDOWNSTREAM_SOURCE_DIR=... -DWORK_DIR=...
#               [-DCONFIG=...] [-DGENERATOR=...] [-DMAKE_PROGRAM=...]
#               [-DCXX_COMPILER=...] [-DCXX_FLAGS=...] [-DEXE_LINKER_FLAGS=...]
#               -P run_downstream.cmake
cmake_minimum_required(VERSION 3.24)

foreach(var ATTNKIT_BUILD_DIR DOWNSTREAM_SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "run_downstream.cmake: -D${var}=... is required")
  endif()
endforeach()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${step} failed (${rc}):\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run("install" "${CMAKE_COMMAND}" --install "${ATTNKIT_BUILD_DIR}" --prefix "${prefix}" ${config_args})

if(NOT EXISTS "${prefix}/include/attnkit/attnkit.h")
  message(FATAL_ERROR "install did not put include/attnkit/attnkit.h under ${prefix}")
endif()
file(GLOB_RECURSE config_files "${prefix}/*/attnkitConfig.cmake")
if(NOT config_files)
  message(FATAL_ERROR "install did not put attnkitConfig.cmake under ${prefix}")
endif()

set(configure_args -S "${DOWNSTREAM_SOURCE_DIR}" -B "${build}"
  "-DCMAKE_PREFIX_PATH=${prefix}"
  # Only the scratch prefix may satisfy find_package: no package registries.
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF)
if(GENERATOR)
  list(APPEND configure_args -G "${GENERATOR}")
endif()
if(MAKE_PROGRAM)
  list(APPEND configure_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CXX_COMPILER)
  list(APPEND configure_args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
endif()
if(CONFIG)
  list(APPEND configure_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
list(APPEND configure_args "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}")

run("configure" "${CMAKE_COMMAND}" ${configure_args})
string(REGEX MATCH "attnkit_DIR=[^\n]*" found "${last_output}")
string(FIND "${found}" "${prefix}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "find_package(attnkit) did not use the installed prefix ${prefix}: ${found}")
endif()

run("build" "${CMAKE_COMMAND}" --build "${build}" ${config_args})

find_program(downstream_exe downstream PATHS "${build}" "${build}/${CONFIG}" NO_DEFAULT_PATH)
if(NOT downstream_exe)
  message(FATAL_ERROR "downstream executable not found under ${build}")
endif()
run("run" "${downstream_exe}")
if(NOT last_output MATCHES "attnkit downstream ok")
  message(FATAL_ERROR "downstream ran but did not report success:\n${last_output}")
endif()
message(STATUS "${last_output}")
