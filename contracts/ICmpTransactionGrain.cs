namespace CmpCluster.Contracts;

/// <summary>
/// Gateway-facing: the CMP entry point. The protocol engine for one CMP transaction (key: <see cref="GrainKeys.Transaction"/>). It owns nonces,
/// duplicates, implicitConfirm, certConf and when the transaction closes; every answer is a DER PKIMessage.
/// </summary>
[Alias("CmpCluster.ICmpTransactionGrain")]
public interface ICmpTransactionGrain : IGrainWithStringKey
{
    /// <summary>Handles one request of this transaction and returns the DER response, never null.</summary>
    [Alias("Handle")]
    Task<byte[]> HandleAsync(CmpRequest request);
}

/// <summary>A request waiting for approval: what an operator needs to decide, never a secret.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.PendingApproval")]
public sealed record PendingApproval(
    [property: Id(0)] string TransactionKey,
    [property: Id(1)] string Alias,
    [property: Id(2)] string Requester,
    [property: Id(3)] string SubjectDn,
    [property: Id(4)] string Profile,
    [property: Id(5)] PkiBodyType BodyType,
    [property: Id(6)] DateTimeOffset RequestedAt);

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CmpRequest")]
public sealed record CmpRequest(
    [property: Id(0)] string Alias,
    [property: Id(1)] byte[] Der);

public enum TransactionPhase
{
    New = 0,
    AwaitingConfirmation = 1,
    Closed = 2,
    /// <summary>The request was answered "waiting" (RFC 9483 §4.4); pollReq gets pollRep until the answer is ready.</summary>
    Waiting = 3,
    /// <summary>A serial is reserved and recorded here before signing: a retry after a crash finishes that certificate
    /// instead of signing another (a retry never re-signs); the confirm reminder revokes it if nobody returns.</summary>
    Issuing = 4,
}

/// <summary>What a transaction looks like from outside: for tests, the admin API and diagnostics.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.TransactionSnapshot")]
public sealed record TransactionSnapshot(
    [property: Id(0)] TransactionPhase Phase,
    [property: Id(1)] IReadOnlyList<string> CertificateKeys,
    [property: Id(2)] DateTimeOffset? ConfirmDeadline,
    [property: Id(4)] TransactionOutcome? Outcome);

/// <summary>Why a transaction closed: decided by the engine's transition function (grains/Transactions/TransactionMachine.cs).</summary>
public enum TransactionOutcome
{
    /// <summary>An authenticated request that opened the transaction was answered with an error.</summary>
    Refused = 1,
    /// <summary>The certificate was delivered with implicitConfirm granted (RFC 9810 §5.1.1.1).</summary>
    ImplicitlyConfirmed = 2,
    /// <summary>certConf accepted every certificate with the right certHash; pkiConf answered it.</summary>
    Confirmed = 3,
    /// <summary>certConf named a certificate wrongly, or a certHash did not match: what was not confirmed is revoked.</summary>
    ConfirmationFailed = 4,
    /// <summary>rr: the certificate was revoked (or released from hold).</summary>
    Revoked = 5,
    /// <summary>rr: the revocation was refused; the rp says why.</summary>
    RevocationRefused = 6,
    /// <summary>genm answered with genp.</summary>
    GeneralResponse = 7,
    /// <summary>nested: every inner message answered by its own transaction.</summary>
    NestedAnswered = 8,
    /// <summary>A waiting request whose approval an operator rejected.</summary>
    ApprovalRejected = 9,
    /// <summary>A waiting request whose pollReq failed (RFC 9810 §5.3.21: an error closes the transaction).</summary>
    RefusedWhileWaiting = 10,
    /// <summary>A waiting request past Cmp:MaxWaitTime.</summary>
    WaitExpired = 11,
    /// <summary>No certConf before the confirm deadline: the certificates were revoked.</summary>
    ConfirmationTimedOut = 12,
    /// <summary>An issuance a crash interrupted and nobody retried: what it signed was revoked.</summary>
    IssuanceInterrupted = 13,
}
