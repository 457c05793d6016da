// Fault injection for crash tests: a process can be made to fail at its N-th *fault point*, the
// moments between writing a file and making it visible (before each rename that installs a file
// or a checkpoint, before a temporary file is removed).
//
//   PATHGRAD_KILL_AT_FAULT_POINT=N  the process kills itself there with SIGKILL (like kill -9);
//   PATHGRAD_FAIL_AT_FAULT_POINT=N  the fault point throws std::system_error(ENOSPC), as a write
//                                   to a full disk would.
// Unset (the normal case), every fault point is a counter increment and nothing else. Tests use
// them to interrupt a run at every such moment and check that it can always be resumed or
// finished (tests/test_fault_resume.cpp).
#pragma once

namespace pathgrad {

// Counts one fault point and injects the fault chosen by the environment when the count
// reaches it. `what` names the moment (it is the message of the injected error).
void fault_point(const char* what);

}  // namespace pathgrad
