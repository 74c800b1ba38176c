using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// The files of a CA made or imported through the admin API (grains/Pki/RecordedCas.cs), the same layout as the folder a
/// first start makes for a <c>Pki:Cas</c> CA, written into a staging folder that the caller renames into place.
/// </summary>
public static partial class DevelopmentPki
{
    /// <summary>A new CA as a first start makes it: its own root, or (IssuedBy) the root whose key is in <paramref name="parentFolder"/>.</summary>
    internal static void CreateInto(PkiOptions options, CaDefinition definition, string folder, string passphrase, string? parentFolder) =>
        Create(options, definition, folder, passphrase, parentFolder);

    /// <summary>
    /// An operator's CA (its certificate <paramref name="ca"/> under <paramref name="root"/>), checked by the caller, its key
    /// either <paramref name="caKey"/>, written encrypted under Pki:Passphrase, or <paramref name="tokenCa"/> on a PKCS#11
    /// token, where it stays. A CMP signer and an OCSP signer are issued with it (keys of the CA's algorithm, made here, in
    /// files), as for a created CA. No root key is written.
    /// </summary>
    internal static void ImportInto(PkiOptions options, CaDefinition definition, string folder, string passphrase,
        X509Certificate2 ca, X509Certificate2 root, AsymmetricAlgorithm? caKey, KeyHolder? tokenCa)
    {
        Directory.CreateDirectory(folder);
        // Five minutes back for clients whose clocks lag, never before the CA itself (a ceremony just held).
        DateTimeOffset now = DateTimeOffset.UtcNow.AddMinutes(-5) is var early && early < ca.NotBefore ? ca.NotBefore : early;
        var issuer = new CaIssuer(ca, caKey is not null ? Generator(caKey) : new KeyHolderGenerator(tokenCa!, ca.PublicKey));
        (X509Certificate2 signer, AsymmetricAlgorithm signerKey) = IssueCmpSigner(options, definition, issuer, now);
        (X509Certificate2 ocsp, AsymmetricAlgorithm ocspKey) = IssueOcspSigner(options, definition, issuer, NewKey(definition.KeyAlgorithm), now);
        using (signer)
        using (signerKey)
        using (ocsp)
        using (ocspKey)
        {
            WriteCertificate(folder, "root-ca", root);
            WriteCertificate(folder, "issuing-ca", ca);
            WriteCertificate(folder, "cmp-signer", signer);
            WriteCertificate(folder, OcspSignerFile, ocsp);
            File.WriteAllText(Path.Combine(folder, "ca-chain.pem"), ca.ExportCertificatePem() + "\n" + root.ExportCertificatePem() + "\n");
            if (caKey is not null)
            {
                WriteKey(folder, "issuing-ca", caKey, passphrase);
            }
            WriteKey(folder, "cmp-signer", signerKey, passphrase);
            WriteKey(folder, OcspSignerFile, ocspKey, passphrase);
        }
    }

    /// <summary>.NET's certificate builder signing through a key that may be on a token (<see cref="KeyHolder.Sign"/>).</summary>
    private sealed class KeyHolderGenerator(KeyHolder key, PublicKey publicKey) : X509SignatureGenerator
    {
        public override byte[] GetSignatureAlgorithmIdentifier(HashAlgorithmName hashAlgorithm) =>
            key.Signer.Algorithm.GetEncoded(Org.BouncyCastle.Asn1.Asn1Encodable.Der);

        public override byte[] SignData(byte[] data, HashAlgorithmName hashAlgorithm) => key.Sign(data, "signer-certificate");

        protected override PublicKey BuildPublicKey() => publicKey;
    }

    /// <summary>The algorithm of a CA key as <see cref="CaKeyAlgorithm"/> names it, or null for one the CA cannot sign with.</summary>
    internal static CaKeyAlgorithm? AlgorithmOf(AsymmetricAlgorithm key) => key switch
    {
        ECDsa ec when ec.ExportParameters(false).Curve.Oid?.Value == "1.2.840.10045.3.1.7" => CaKeyAlgorithm.EcP256, // secp256r1, RFC 5480 §2.1.1.1
        ECDsa ec when ec.ExportParameters(false).Curve.Oid?.Value == "1.3.132.0.34" => CaKeyAlgorithm.EcP384, // secp384r1
        RSA { KeySize: 2048 } => CaKeyAlgorithm.Rsa2048,
        RSA { KeySize: 3072 } => CaKeyAlgorithm.Rsa3072,
        _ => null,
    };
}
