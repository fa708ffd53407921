// Preloaded into the agent under test (node --import): uname -r reads 5.15.0-test, a kernel too old for xdp.
import os from 'node:os';

os.release = () => '5.15.0-test';
