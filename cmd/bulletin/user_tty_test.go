//go:build linux

package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPTY opens a pseudo-terminal: the test types into master what the
// child reads from slave, its standard input, and reads back what the
// terminal shows.
func openPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}

// echoing reports whether the terminal shows what is typed.
func echoing(t *testing.T, tty *os.File) bool {
	t.Helper()
	st, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	return st.Lflag&unix.ECHO != 0
}

// userAtTerminal starts "bulletin user add" in a child process whose
// standard input and error are a terminal, and waits until it asks for the
// password with echo off.
func userAtTerminal(t *testing.T, data, name string) (cmd *exec.Cmd, master, slave *os.File, shown *syncBuffer, stdout *syncBuffer) {
	t.Helper()
	master, slave = openPTY(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(exe, "-test.run=^$", "--", "user", "add", "--data", data, name)
	cmd.Env = append(os.Environ(), "BULLETIN_TEST_CHILD=1")
	stdout = &syncBuffer{}
	cmd.Stdin, cmd.Stderr, cmd.Stdout = slave, slave, stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	shown = &syncBuffer{}
	go io.Copy(shown, master)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(shown.String(), "Password: ") || echoing(t, slave) {
		if time.Now().After(deadline) {
			t.Fatalf("no password prompt with echo off; the terminal shows %q", shown.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cmd, master, slave, shown, stdout
}

// TestPasswordNotEchoed types a password at a terminal: it is not shown,
// the prompt is on the terminal (stderr) and ends its line, the output
// starts on a line of its own, and echo is back on afterwards.
func TestPasswordNotEchoed(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	cmd, master, slave, shown, stdout := userAtTerminal(t, data, "ed1")
	if _, err := io.WriteString(master, "VisibleSecret123\n"); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("user add: %v\nterminal: %q\nstdout: %q", err, shown.String(), stdout.String())
	}
	time.Sleep(50 * time.Millisecond) // the last bytes through the terminal
	if strings.Contains(shown.String(), "VisibleSecret123") {
		t.Errorf("the password was shown: %q", shown.String())
	}
	if !strings.HasSuffix(strings.ReplaceAll(shown.String(), "\r", ""), "Password: \n") {
		t.Errorf("the prompt does not end its line: %q", shown.String())
	}
	if got := stdout.String(); got != "user ed1 added (editor)\n" {
		t.Errorf("stdout = %q", got)
	}
	if !echoing(t, slave) {
		t.Error("echo is still off after the password was read")
	}
}

// TestPasswordPromptInterrupted: Ctrl-C at the prompt turns echo back on,
// adds nobody and exits 130 saying so.
func TestPasswordPromptInterrupted(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	newStore(t, data)
	cmd, _, slave, shown, _ := userAtTerminal(t, data, "ed2")
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if code := cmd.ProcessState.ExitCode(); code != 130 {
		t.Errorf("exit %d (%v), want 130", code, err)
	}
	time.Sleep(50 * time.Millisecond)
	if !strings.Contains(shown.String(), "interrupted: nothing was changed") {
		t.Errorf("the terminal shows %q", shown.String())
	}
	if !echoing(t, slave) {
		t.Error("echo is still off after Ctrl-C")
	}
}
