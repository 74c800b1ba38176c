namespace CmpCluster.Grains.Transactions;

/// <summary>A certificate of this transaction that waits for certConf (part of <see cref="TransactionState"/>).</summary>
[GenerateSerializer]
[Alias("CmpCluster.PendingCertificate")]
public sealed record PendingCertificate(
    [property: Id(0)] long CertReqId,
    [property: Id(1)] string Key,
    [property: Id(2)] byte[] Der);
