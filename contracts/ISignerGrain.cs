namespace CmpCluster.Contracts;

/// <summary>
/// Signs with a key held in this silo's memory (key: the key name, e.g. the CA name or its CMP signer).
/// A stateless worker: one activation per silo core, always local to its caller.
/// </summary>
[Alias("CmpCluster.ISignerGrain")]
public interface ISignerGrain : IGrainWithStringKey
{
    /// <summary>Signs a DER TBSCertificate and returns the DER Certificate.</summary>
    [Alias("SignCertificate")]
    Task<byte[]> SignCertificateAsync(byte[] tbsCertificateDer);

    /// <summary>Signs arbitrary bytes (a CMP ProtectedPart) with the key's signature algorithm.</summary>
    [Alias("Sign")]
    Task<byte[]> SignAsync(byte[] data);
}

/// <summary>Answers requests that cannot be routed to a transaction (no usable transactionID) with a protected error.</summary>
[Alias("CmpCluster.ICmpRejectionGrain")]
public interface ICmpRejectionGrain : IGrainWithStringKey
{
    [Alias("Reject")]
    Task<byte[]> RejectAsync(CmpRequest request);
}
