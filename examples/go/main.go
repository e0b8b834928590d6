// A Go workflow that runs one sandboxed step on temporal-runsc workers: it asks the shared queue
// for a host (hostQueue), runs the step there (runContainer), and, when it is cancelled, asks
// the host's control queue to abort the step at once (abortStep) instead of waiting for the
// step's next heartbeat. The temporal-runsc workers must be running (`temporal-runsc worker`).
//
//	go run . --address localhost:7233 -- /bin/sh -c 'echo hello'
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Step is runContainer's input (the JSON field names are the activity's).
type Step struct {
	Step                  string            `json:"step"`
	Args                  []string          `json:"args"`
	Env                   map[string]string `json:"env,omitempty"`
	NonRetryableExitCodes []int             `json:"nonRetryableExitCodes,omitempty"`
}

// Result is part of runContainer's result (RunContainerResult in activities/types.ts).
type Result struct {
	Step        string  `json:"step"`
	ContainerID string  `json:"containerId"`
	ExitCode    int     `json:"exitCode"`
	Signal      *string `json:"signal"`
	StdoutTail  string  `json:"stdoutTail"`
	StderrTail  string  `json:"stderrTail"`
	Host        string  `json:"host"`
	Attempt     int     `json:"attempt"`
	Result      any     `json:"result,omitempty"`
}

type Input struct {
	// The temporal-runsc workers' shared queue (`--task-queue`, default temporal-runsc).
	SharedQueue string `json:"sharedQueue"`
	Step        Step   `json:"step"`
}

type hostTarget struct {
	Host      string `json:"host"`
	HostQueue string `json:"hostQueue"`
}

func SandboxStep(ctx workflow.Context, in Input) (*Result, error) {
	var target hostTarget
	shared := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           in.SharedQueue,
		StartToCloseTimeout: 30 * time.Second,
	})
	if err := workflow.ExecuteActivity(shared, "hostQueue").Get(ctx, &target); err != nil {
		return nil, err
	}
	onHost := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           target.HostQueue,
		StartToCloseTimeout: 10 * time.Minute,
		HeartbeatTimeout:    10 * time.Second, // how fast a lost host is noticed
		// A cancelled workflow waits until its container is confirmed gone.
		WaitForCancellation: true,
		RetryPolicy: &temporal.RetryPolicy{
			MaximumAttempts:        3,
			NonRetryableErrorTypes: []string{"InvalidStep"},
		},
	})
	run := workflow.ExecuteActivity(onHost, "runContainer", in.Step)

	// On cancellation, abort the step through the host's control queue: at once, instead of
	// with the response to the step's next heartbeat (up to about 2 s later).
	workflow.Go(ctx, func(gctx workflow.Context) {
		gctx.Done().Receive(gctx, nil)
		if run.IsReady() {
			return
		}
		disconnected, _ := workflow.NewDisconnectedContext(ctx)
		control := workflow.WithActivityOptions(disconnected, workflow.ActivityOptions{
			TaskQueue:              target.HostQueue + "-control",
			ScheduleToCloseTimeout: 10 * time.Second,
			RetryPolicy:            &temporal.RetryPolicy{MaximumAttempts: 1},
		})
		_ = workflow.ExecuteActivity(control, "abortStep", map[string]string{"step": in.Step.Step}).Get(disconnected, nil)
	})

	var result Result
	if err := run.Get(ctx, &result); err != nil {
		return nil, err
	}
	return &result, nil
}

func main() {
	address := flag.String("address", "localhost:7233", "Temporal frontend")
	sharedQueue := flag.String("shared-queue", "temporal-runsc", "the temporal-runsc workers' shared queue")
	ownQueue := flag.String("task-queue", "go-sandbox-steps", "this program's own workflow queue")
	flag.Parse()
	if flag.NArg() == 0 {
		log.Fatal("give the step's program and arguments after --, e.g. -- /bin/echo hello")
	}

	c, err := client.Dial(client.Options{HostPort: *address})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	w := worker.New(c, *ownQueue, worker.Options{})
	w.RegisterWorkflow(SandboxStep)
	if err := w.Start(); err != nil {
		log.Fatal(err)
	}
	defer w.Stop()

	run, err := c.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{TaskQueue: *ownQueue}, SandboxStep,
		Input{SharedQueue: *sharedQueue, Step: Step{Step: "main", Args: flag.Args()}})
	if err != nil {
		log.Fatal(err)
	}
	var result Result
	err = run.Get(context.Background(), &result)
	var appErr *temporal.ApplicationError
	switch {
	case err == nil:
		fmt.Printf("exit %d\n%s", result.ExitCode, result.StdoutTail)
	case errors.As(err, &appErr) && appErr.Type() == "ContainerExit":
		var failed Result
		_ = appErr.Details(&failed)
		fmt.Printf("ContainerExit: exit %d\n%s", failed.ExitCode, failed.StderrTail)
		os.Exit(1)
	default:
		log.Fatal(err) // RuntimeError, InvalidStep, StepTimedOut, StepAborted, ...
	}
}
