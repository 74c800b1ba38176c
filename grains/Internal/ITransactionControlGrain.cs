using CmpCluster.Contracts;

namespace CmpCluster.Grains.Internal;

/// <summary>
/// Silo-internal control of a CMP transaction (same key and activation as <see cref="ICmpTransactionGrain"/>): the
/// deadline sweeper, approvals, nested inner messages and diagnostics.
/// </summary>
[Alias("CmpCluster.ITransactionControlGrain")]
public interface ITransactionControlGrain : IGrainWithStringKey
{
    /// <summary>
    /// An inner message of a nested message whose outer protection by a trusted RA verified (RFC 9810 §5.1.3.4): the
    /// engine alone may say that an RA vouched for a message, so this is not on the gateway-facing interface.
    /// </summary>
    [Alias("HandleNested")]
    Task<byte[]> HandleNestedAsync(CmpRequest request);

    /// <summary>Acts on a passed deadline: revokes what is still unconfirmed, rejects what waited too long (the deadline sweeper calls it).</summary>
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

/// <summary>Silo-internal. The requests that wait for an operator's approval (one list per cluster, key <see cref="GrainKeys.Approvals"/>).</summary>
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

/// <summary>
/// Silo-internal. The cluster's one deadline sweeper (key <see cref="DeadlineSweeperKey"/>), woken by a durable reminder:
/// asks the transaction store which transactions are due and calls each one's <see cref="ITransactionControlGrain.ExpireIfDueAsync"/>,
/// then deletes expired transactions where the store does not expire them itself.
/// </summary>
[Alias("CmpCluster.IDeadlineSweeperGrain")]
public interface IDeadlineSweeperGrain : IGrainWithStringKey
{
    public const string DeadlineSweeperKey = "deadlines";

    /// <summary>Registers (or updates) the sweeper's durable reminder, every <c>Cmp:ConfirmCheckPeriod</c>. Idempotent.</summary>
    [Alias("EnsureScheduled")]
    Task EnsureScheduledAsync();

    /// <summary>One sweep now; returns how many transactions were due and how many expired states were deleted.</summary>
    [Alias("Sweep")]
    Task<SweepResult> SweepAsync();
}

[GenerateSerializer, Immutable]
[Alias("CmpCluster.SweepResult")]
public sealed record SweepResult([property: Id(0)] int Due, [property: Id(1)] int Failed, [property: Id(2)] int Pruned);
