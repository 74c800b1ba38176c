using CmpCluster.Contracts;
using Orleans.Concurrency;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// CPU-bound signing, one activation per core and always in the caller's silo, so a busy CA is not a single
/// serialized activation. The key comes from the process-wide <see cref="PkiKeyRing"/>.
/// </summary>
[StatelessWorker]
public sealed class SignerGrain(PkiKeyRing keys) : Grain, ISignerGrain
{
    public Task<byte[]> SignCertificateAsync(byte[] tbsCertificateDer)
    {
        KeyHolder key = Key;
        var tbs = TbsCertificateStructure.GetInstance(Asn1Object.FromByteArray(tbsCertificateDer));
        if (!tbs.Signature.Equals(key.Signer.Algorithm))
        {
            throw new ArgumentException("TBSCertificate.signature does not match the signing key's algorithm");
        }
        byte[] signature = Timed(key, "certificate", tbsCertificateDer);
        var certificate = new X509CertificateStructure(tbs, key.Signer.Algorithm, new DerBitString(signature));
        return Task.FromResult(certificate.GetEncoded(Asn1Encodable.Der));
    }

    public Task<byte[]> SignAsync(byte[] data) => Task.FromResult(Timed(Key, "data", data));

    /// <summary>Signs and records how long the signature took (cmp.signing.duration), by key and operation.</summary>
    private byte[] Timed(KeyHolder key, string operation, byte[] data)
    {
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        byte[] signature = key.Signer.Sign(data);
        Telemetry.GrainTelemetry.SigningDuration.Record(System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            new("key", key.Name), new("operation", operation));
        return signature;
    }

    private KeyHolder Key => keys.GetSigner(this.GetPrimaryKeyString());
}
