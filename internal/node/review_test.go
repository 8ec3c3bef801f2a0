package node

import (
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/internal/config"
	"github.com/portcullis/portcullis/internal/snapshot"
)

func TestReviewOverdue(t *testing.T) {
	due := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	snap := &snapshot.Snapshot{Policy: &config.Policy{Gateway: &config.Gateway{Spec: config.GatewaySpec{
		Review: &config.Review{Owner: "sec-team", ReviewBy: config.Date{Time: due}}}}}}
	if overdue, _ := reviewOverdue(snap, due.Add(23*time.Hour)); overdue {
		t.Error("overdue on the due date itself")
	}
	overdue, msg := reviewOverdue(snap, due.Add(25*time.Hour))
	if !overdue || !strings.Contains(msg, "2027-03-01") || !strings.Contains(msg, "sec-team") {
		t.Errorf("the day after: %v %q", overdue, msg)
	}
	snap.Policy.Gateway.Spec.Review = nil
	if overdue, _ := reviewOverdue(snap, due.Add(1000*time.Hour)); overdue {
		t.Error("overdue without a review")
	}
}
