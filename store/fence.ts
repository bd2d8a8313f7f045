// The lease token a driver writes under. Every write that changes a run takes it: the write commits only
// while that token still holds the run (checked in the same transaction, so a takeover committed first
// refuses it and one committed after waits for it), else nothing is written and FencedError is thrown. Each
// lease grant has a token of its own, so a driver that lost the run can never write again: the journal is
// the lock service, and it fences by the current holder rather than by comparing numbers.
export type Fence = string;
