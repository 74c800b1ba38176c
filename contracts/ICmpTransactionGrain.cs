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
}

[GenerateSerializer, Immutable]
[Alias("CmpCluster.CmpRequest")]
public sealed record CmpRequest([property: Id(0)] string Alias, [property: Id(1)] byte[] Der);

public enum TransactionPhase
{
    New = 0,
    AwaitingConfirmation = 1,
    Closed = 2,
}

/// <summary>What a transaction looks like from outside: for tests, the admin API and diagnostics.</summary>
[GenerateSerializer, Immutable]
[Alias("CmpCluster.TransactionSnapshot")]
public sealed record TransactionSnapshot(
    [property: Id(0)] TransactionPhase Phase,
    [property: Id(1)] IReadOnlyList<string> CertificateKeys,
    [property: Id(2)] DateTimeOffset? ConfirmDeadline,
    [property: Id(3)] string? Outcome);
