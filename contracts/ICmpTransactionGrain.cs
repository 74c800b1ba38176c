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
    [property: Id(3)] string? Outcome);
