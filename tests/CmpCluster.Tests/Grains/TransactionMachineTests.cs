using CmpCluster.Contracts;
using CmpCluster.Grains.Transactions;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// The transition function of grains/Transactions/TransactionMachine.cs, over every phase and event: the transitions the
/// engine relies on, the outcome each close records, and nothing else allowed.
/// </summary>
public sealed class TransactionMachineTests
{
    /// <summary>Every allowed (phase, event) and where it leads; anything absent must throw.</summary>
    private static readonly Dictionary<(TransactionPhase, TransactionEvent), Transition> Allowed = new()
    {
        [(TransactionPhase.New, TransactionEvent.Deferred)] = new(TransactionPhase.Waiting, null),
        [(TransactionPhase.Waiting, TransactionEvent.Polled)] = new(TransactionPhase.Waiting, null),
        [(TransactionPhase.New, TransactionEvent.SerialRecorded)] = new(TransactionPhase.Issuing, null),
        [(TransactionPhase.Waiting, TransactionEvent.SerialRecorded)] = new(TransactionPhase.Issuing, null),
        [(TransactionPhase.Issuing, TransactionEvent.SerialRecorded)] = new(TransactionPhase.Issuing, null),
        [(TransactionPhase.Issuing, TransactionEvent.Delivered)] = new(TransactionPhase.AwaitingConfirmation, null),
        // The certificate's own record was the write-ahead: nothing recorded in the transaction before it was signed.
        [(TransactionPhase.New, TransactionEvent.Delivered)] = new(TransactionPhase.AwaitingConfirmation, null),
        [(TransactionPhase.Waiting, TransactionEvent.Delivered)] = new(TransactionPhase.AwaitingConfirmation, null),
        [(TransactionPhase.Issuing, TransactionEvent.DeliveredConfirmed)] = new(TransactionPhase.Closed, TransactionOutcome.ImplicitlyConfirmed),
        [(TransactionPhase.AwaitingConfirmation, TransactionEvent.Confirmed)] = new(TransactionPhase.Closed, TransactionOutcome.Confirmed),
        [(TransactionPhase.AwaitingConfirmation, TransactionEvent.ConfirmationFailed)] = new(TransactionPhase.Closed, TransactionOutcome.ConfirmationFailed),
        [(TransactionPhase.New, TransactionEvent.Revoked)] = new(TransactionPhase.Closed, TransactionOutcome.Revoked),
        [(TransactionPhase.New, TransactionEvent.RevocationRefused)] = new(TransactionPhase.Closed, TransactionOutcome.RevocationRefused),
        [(TransactionPhase.New, TransactionEvent.GeneralResponse)] = new(TransactionPhase.Closed, TransactionOutcome.GeneralResponse),
        [(TransactionPhase.New, TransactionEvent.NestedAnswered)] = new(TransactionPhase.Closed, TransactionOutcome.NestedAnswered),
        [(TransactionPhase.New, TransactionEvent.Refused)] = new(TransactionPhase.Closed, TransactionOutcome.Refused),
        [(TransactionPhase.Waiting, TransactionEvent.Refused)] = new(TransactionPhase.Closed, TransactionOutcome.RefusedWhileWaiting),
        [(TransactionPhase.Issuing, TransactionEvent.Refused)] = new(TransactionPhase.Issuing, null),
        [(TransactionPhase.Waiting, TransactionEvent.ApprovalRejected)] = new(TransactionPhase.Closed, TransactionOutcome.ApprovalRejected),
        [(TransactionPhase.Waiting, TransactionEvent.DeadlinePassed)] = new(TransactionPhase.Closed, TransactionOutcome.WaitExpired),
        [(TransactionPhase.AwaitingConfirmation, TransactionEvent.DeadlinePassed)] = new(TransactionPhase.Closed, TransactionOutcome.ConfirmationTimedOut),
        [(TransactionPhase.Issuing, TransactionEvent.DeadlinePassed)] = new(TransactionPhase.Closed, TransactionOutcome.IssuanceInterrupted),
    };

    public static TheoryData<TransactionPhase, TransactionEvent> EveryPair()
    {
        var data = new TheoryData<TransactionPhase, TransactionEvent>();
        foreach (TransactionPhase phase in Enum.GetValues<TransactionPhase>())
        {
            foreach (TransactionEvent happened in Enum.GetValues<TransactionEvent>())
            {
                data.Add(phase, happened);
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(EveryPair))]
    public void Each_phase_takes_exactly_the_listed_events(TransactionPhase phase, TransactionEvent happened)
    {
        if (Allowed.TryGetValue((phase, happened), out Transition expected))
        {
            Assert.Equal(expected, TransactionMachine.Next(phase, happened));
        }
        else
        {
            var e = Assert.Throws<InvalidOperationException>(() => TransactionMachine.Next(phase, happened));
            Assert.Contains(phase.ToString(), e.Message);
        }
    }

    [Fact]
    public void A_closed_transaction_takes_no_event_and_every_close_records_why()
    {
        foreach (TransactionEvent happened in Enum.GetValues<TransactionEvent>())
        {
            Assert.Throws<InvalidOperationException>(() => TransactionMachine.Next(TransactionPhase.Closed, happened));
        }
        Assert.All(Allowed.Values, t => Assert.Equal(t.Phase == TransactionPhase.Closed, t.Outcome is not null));
        // Every outcome is reachable: none is dead text.
        Assert.Equal(Enum.GetValues<TransactionOutcome>().Order(), Allowed.Values.Where(t => t.Closes).Select(t => t.Outcome!.Value).Distinct().Order());
    }

    [Fact]
    public void An_issuance_runs_new_to_closed_through_issuing_and_confirmation()
    {
        TransactionPhase phase = TransactionPhase.New;
        foreach (TransactionEvent happened in new[] { TransactionEvent.SerialRecorded, TransactionEvent.Delivered, TransactionEvent.Confirmed })
        {
            phase = TransactionMachine.Next(phase, happened).Phase;
        }
        Assert.Equal(TransactionPhase.Closed, phase);
    }
}
