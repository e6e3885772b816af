package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/shearsml/shears/train"
)

// progressBar draws a one-line progress bar with ETA on a terminal, or
// prints one line per epoch when the output is not a terminal.
type progressBar struct {
	w     io.Writer
	tty   bool
	quiet bool
	start time.Time
}

// newProgress draws on w (a command's stderr).
func newProgress(quiet bool, w io.Writer) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return &progressBar{w: w, tty: tty, quiet: quiet, start: time.Now()}
}

func (p *progressBar) update(pr train.Progress) {
	if p.quiet {
		return
	}
	if pr.Phase == "eval" {
		if p.tty {
			fmt.Fprintf(p.w, "\r\033[Keval %s %d/%d acc %.2f%%", bar(pr.Batch, pr.Batches, 20), pr.Batch, pr.Batches, 100*pr.Accuracy)
			if pr.Batch == pr.Batches {
				fmt.Fprintln(p.w)
			}
		}
		return
	}
	if !p.tty {
		if pr.Batch == pr.Batches {
			fmt.Fprintf(p.w, "epoch %d/%d loss %.4f acc %.2f%% lr %.4g elapsed %s\n", pr.Epoch+1, pr.Epochs, pr.Loss, 100*pr.Accuracy, pr.LR, pr.Elapsed.Round(time.Second))
		}
		return
	}
	eta := "?"
	if pr.Step > 0 && pr.TotalSteps > 0 {
		per := pr.Elapsed / time.Duration(pr.Step)
		eta = (per * time.Duration(pr.TotalSteps-pr.Step)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\033[Kepoch %d/%d %s %d/%d loss %.4f acc %.2f%% lr %.4g ETA %s",
		pr.Epoch+1, pr.Epochs, bar(pr.Batch, pr.Batches, 20), pr.Batch, pr.Batches, pr.Loss, 100*pr.Accuracy, pr.LR, eta)
	if pr.Batch == pr.Batches {
		fmt.Fprintln(p.w)
	}
}

func bar(done, total, width int) string {
	if total <= 0 {
		return ""
	}
	n := done * width / total
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "]"
}
