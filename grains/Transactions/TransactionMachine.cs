using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol;

namespace CmpCluster.Grains.Transactions;

/// <summary>What happens to a transaction; <see cref="TransactionMachine.Next"/> says where each one leads.</summary>
public enum TransactionEvent
{
    /// <summary>The request waits (RFC 9483 §4.4: an operator's approval, or signing capacity); pollReq follows.</summary>
    Deferred,
    /// <summary>A pollReq answered with pollRep: the request still waits.</summary>
    Polled,
    /// <summary>Write-ahead: the serial about to be signed is recorded before anything is signed.</summary>
    SerialRecorded,
    /// <summary>The certificate was delivered; certConf is awaited until the confirm deadline.</summary>
    Delivered,
    /// <summary>The certificate was delivered with implicitConfirm granted.</summary>
    DeliveredConfirmed,
    Confirmed,
    ConfirmationFailed,
    Revoked,
    RevocationRefused,
    GeneralResponse,
    NestedAnswered,
    /// <summary>An authenticated request was answered with an error.</summary>
    Refused,
    ApprovalRejected,
    /// <summary>The deadline sweeper found the transaction's deadline passed.</summary>
    DeadlinePassed,
}

/// <summary>The phase a transaction enters, and why it closed when that phase is <see cref="TransactionPhase.Closed"/>.</summary>
public readonly record struct Transition(TransactionPhase Phase, TransactionOutcome? Outcome)
{
    public bool Closes => Phase == TransactionPhase.Closed;
}

/// <summary>
/// The life of a CMP transaction in two pure functions: <see cref="Admit"/> decides whether a request that is not an
/// identical retransmission may enter the transaction in its phase; <see cref="Next"/> is the one place a phase changes
/// and the one place that decides when a transaction closes. The engine (<see cref="CmpTransactionGrain"/>) does the
/// side effects around them.
/// </summary>
public static class TransactionMachine
{
    /// <summary>Request types that open a transaction (RFC 9810 §5.3; RFC 9483 §4).</summary>
    public static bool Opens(PkiBodyType body) => body is PkiBodyType.Ir or PkiBodyType.Cr or PkiBodyType.P10Cr
        or PkiBodyType.Kur or PkiBodyType.Rr or PkiBodyType.Genm or PkiBodyType.Nested or PkiBodyType.Krr or PkiBodyType.Ccr;

    /// <summary>RFC 9810 §5.1.1: a follow-up carries the senderNonce of our last response as its recipNonce.</summary>
    private static CmpFailure? Chained(byte[]? recipNonce, byte[]? expectedRecipNonce) =>
        recipNonce is not null && expectedRecipNonce is not null && CryptographicOperations.FixedTimeEquals(recipNonce, expectedRecipNonce)
            ? null
            : new CmpFailure(PkiFailureInfo.BadRecipientNonce, "recipNonce does not match the last response");

    /// <returns>null when the request is admitted; otherwise the failure that answers it.</returns>
    public static CmpFailure? Admit(TransactionPhase phase, PkiBodyType body, byte[]? recipNonce, byte[]? expectedRecipNonce) => phase switch
    {
        TransactionPhase.New when Opens(body) => null,
        TransactionPhase.New when body is PkiBodyType.CertConf or PkiBodyType.PollReq =>
            new CmpFailure(PkiFailureInfo.BadRequest, "no open transaction has this transactionID"),
        TransactionPhase.New => new CmpFailure(PkiFailureInfo.BadRequest, "message type is not a request a server accepts"),

        // RFC 9810 §5.1.1: a follow-up carries our last senderNonce as recipNonce; a new request may not reuse the ID.
        TransactionPhase.AwaitingConfirmation when body is PkiBodyType.CertConf =>
            Chained(recipNonce, expectedRecipNonce),
        TransactionPhase.AwaitingConfirmation => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use"),

        // RFC 9483 §4.4: a waiting request is followed by pollReq, chained by the nonces like certConf.
        TransactionPhase.Waiting when body is PkiBodyType.PollReq =>
            Chained(recipNonce, expectedRecipNonce),
        // An issuance a crash interrupted: only the same request may resume it (checked against its hash by the engine).
        TransactionPhase.Issuing when Opens(body) => null,

        TransactionPhase.Waiting => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use: the request waits, poll it"),

        _ => new CmpFailure(PkiFailureInfo.TransactionIdInUse, "transactionID is in use"),
    };

    /// <summary>
    /// Where <paramref name="happened"/> leads from <paramref name="phase"/>. Anything not listed is a fault of the engine,
    /// never of a client: a client's request is refused by <see cref="Admit"/> before it can cause an event.
    /// </summary>
    /// <exception cref="InvalidOperationException">the event cannot happen in this phase.</exception>
    public static Transition Next(TransactionPhase phase, TransactionEvent happened) => (phase, happened) switch
    {
        (TransactionPhase.New, TransactionEvent.Deferred) => Enter(TransactionPhase.Waiting),
        (TransactionPhase.Waiting, TransactionEvent.Polled) => Enter(TransactionPhase.Waiting),
        // Write-ahead, for a new request, a waiting one granted at its poll, or an interrupted one retried under a new serial.
        (TransactionPhase.New or TransactionPhase.Waiting or TransactionPhase.Issuing, TransactionEvent.SerialRecorded) => Enter(TransactionPhase.Issuing),
        // Delivered from New or Waiting: the certificate's own record was the write-ahead (grains/Certificates/CertificateIssuer.cs).
        (TransactionPhase.New or TransactionPhase.Waiting or TransactionPhase.Issuing, TransactionEvent.Delivered) => Enter(TransactionPhase.AwaitingConfirmation),
        (TransactionPhase.Issuing, TransactionEvent.DeliveredConfirmed) => Close(TransactionOutcome.ImplicitlyConfirmed),
        (TransactionPhase.AwaitingConfirmation, TransactionEvent.Confirmed) => Close(TransactionOutcome.Confirmed),
        (TransactionPhase.AwaitingConfirmation, TransactionEvent.ConfirmationFailed) => Close(TransactionOutcome.ConfirmationFailed),
        (TransactionPhase.New, TransactionEvent.Revoked) => Close(TransactionOutcome.Revoked),
        (TransactionPhase.New, TransactionEvent.RevocationRefused) => Close(TransactionOutcome.RevocationRefused),
        (TransactionPhase.New, TransactionEvent.GeneralResponse) => Close(TransactionOutcome.GeneralResponse),
        (TransactionPhase.New, TransactionEvent.NestedAnswered) => Close(TransactionOutcome.NestedAnswered),
        (TransactionPhase.New, TransactionEvent.Refused) => Close(TransactionOutcome.Refused),
        // RFC 9810 §5.3.21: an error ends a waiting request.
        (TransactionPhase.Waiting, TransactionEvent.Refused) => Close(TransactionOutcome.RefusedWhileWaiting),
        // A failure after the serial was recorded keeps the transaction: the deadline sweeper revokes what may have been signed.
        (TransactionPhase.Issuing, TransactionEvent.Refused) => Enter(TransactionPhase.Issuing),
        (TransactionPhase.Waiting, TransactionEvent.ApprovalRejected) => Close(TransactionOutcome.ApprovalRejected),
        (TransactionPhase.Waiting, TransactionEvent.DeadlinePassed) => Close(TransactionOutcome.WaitExpired),
        (TransactionPhase.AwaitingConfirmation, TransactionEvent.DeadlinePassed) => Close(TransactionOutcome.ConfirmationTimedOut),
        (TransactionPhase.Issuing, TransactionEvent.DeadlinePassed) => Close(TransactionOutcome.IssuanceInterrupted),
        _ => throw new InvalidOperationException($"a transaction in phase {phase} cannot take the event {happened}"),
    };

    private static Transition Enter(TransactionPhase phase) => new(phase, null);

    private static Transition Close(TransactionOutcome outcome) => new(TransactionPhase.Closed, outcome);
}
