namespace CmpCluster.Contracts;

/// <summary>
/// The protocol engine for one CMP transaction (key: <see cref="GrainKeys.Transaction"/>). It owns nonces,
/// duplicates, implicitConfirm, certConf and when the transaction closes; every answer is a DER PKIMessage.
/// </summary>
[Alias("CmpCluster.ICmpTransactionGrain")]
public interface ICmpTransactionGrain : IGrainWithStringKey
{
    /// <summary>Handles one request of this transaction and returns the DER response, never null.</summary>
    [Alias("Handle")]
    Task<byte[]> HandleAsync(CmpRequest request);

    /// <summary>Revokes what is still unconfirmed once the confirm wait time has passed (the reminder calls it).</summary>
    [Alias("ExpireIfDue")]
    Task ExpireIfDueAsync();

    [Alias("GetSnapshot")]
    Task<TransactionSnapshot> GetSnapshotAsync();

    /// <summary>
    /// An operator's decision on a request that waits for approval (profile <c>RequireApproval</c>); the client learns it
    /// at its next pollReq. False when the transaction is not waiting for approval.
    /// </summary>
    [Alias("DecideApproval")]
    Task<bool> DecideApprovalAsync(bool approve, string approver);
}

/// <summary>The requests that wait for an operator's approval (one list per cluster, key <see cref="GrainKeys.Approvals"/>).</summary>
[Alias("CmpCluster.IApprovalQueueGrain")]
public interface IApprovalQueueGrain : IGrainWithStringKey
{
    [Alias("Add")]
    Task AddAsync(PendingApproval approval);

    [Alias("Remove")]
    Task RemoveAsync(string transactionKey);

    [Alias("List")]
    Task<IReadOnlyList<PendingApproval>> ListAsync();
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
    [property: Id(1)] byte[] Der,
    /// <summary>The message arrived inside a nested message whose outer protection by a trusted RA verified
    /// (RFC 9810 §5.1.3.4); only the engine sets it, never a gateway.</summary>
    [property: Id(2)] bool InsideTrustedNested = false);

public enum TransactionPhase
{
    New = 0,
    AwaitingConfirmation = 1,
    Closed = 2,
    /// <summary>The request was answered "waiting" (RFC 9483 §4.4); pollReq gets pollRep until the answer is ready.</summary>
    Waiting = 3,
    /// <summary>A serial is reserved and recorded here before signing: a retry after a crash finishes that certificate
    /// instead of signing another (DESIGN §4: a retry never re-signs); the confirm reminder revokes it if nobody returns.</summary>
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
