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
        byte[] signature = key.Signer.Sign(tbsCertificateDer);
        var certificate = new X509CertificateStructure(tbs, key.Signer.Algorithm, new DerBitString(signature));
        return Task.FromResult(certificate.GetEncoded(Asn1Encodable.Der));
    }

    public Task<byte[]> SignAsync(byte[] data) => Task.FromResult(Key.Signer.Sign(data));

    private KeyHolder Key => keys.GetSigner(this.GetPrimaryKeyString());
}
