// Integration tests start processes and wait on real servers: hooks and tests get minutes, not
// Jest's default 5 s (a project-level testTimeout does not reach hooks).
jest.setTimeout(180_000);
