// Fault injection for crash tests: a process can be made to kill itself (SIGKILL, like kill -9)
// at its N-th *fault point*, the moments between writing a file and making it visible (before
// each rename that installs a file or a checkpoint, before a temporary file is removed).
//
// Set PATHGRAD_KILL_AT_FAULT_POINT=N in the environment; unset (the normal case) every fault
// point is a counter increment and nothing else. Tests use it to interrupt a run at every such
// moment and check that it can always be resumed or finished (tests/test_fault_resume.cpp).
#pragma once

namespace pathgrad {

// Counts one fault point; kills the process with SIGKILL when the count reaches
// PATHGRAD_KILL_AT_FAULT_POINT. `what` names the moment (kept for a debugger's backtrace).
void fault_point(const char* what);

}  // namespace pathgrad
