using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using CmpCluster.Protocol;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Messages;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.X509;

namespace CmpCluster.Grains.Authentication;

/// <summary>
/// Vendor certificate mode (EJBCA's CMP documentation, "Vendor CA Authentication", 3GPP TS 33.310): a device's first request is signed with the
/// certificate its vendor gave it at manufacture. The chain in extraCerts must end at one of the alias's vendor CAs
/// (signatures, validity, basic constraints and key usage checked by the platform's X.509 verifier), no certificate in it
/// may be on a configured vendor CRL, and no SHA-1 or MD5 may appear in the chain, the protection or the POP (TS 33.310
/// §9.5: SHA-256, SHA-384 allowed).
/// </summary>
public sealed class VendorCertificates(TimeProvider time)
{
    private readonly ConcurrentDictionary<string, VendorTrust> _trust = new(StringComparer.Ordinal);

    /// <summary>The vendor certificate, verified; throws the failInfo of EJBCA's CMP error table otherwise.</summary>
    public X509CertificateStructure Verify(DecodedRequest request, CmpAliasOptions alias) =>
        Verify(request, alias.VendorCas ?? [], alias.VendorCrls ?? []);

    /// <summary>
    /// A request signed with a certificate of another PKI (a vendor's device, or an RA of another operator that wraps
    /// nested messages): signature, chain to one of <paramref name="trustAnchorFiles"/>, CRLs, and no SHA-1 or MD5.
    /// </summary>
    public X509CertificateStructure Verify(DecodedRequest request, IReadOnlyList<string> trustAnchorFiles, IReadOnlyList<string> crlFiles)
    {
        if (request.ProtectionAlg is { } weak && Weak(weak))
        {
            throw new CmpFailureException(PkiFailureInfo.BadAlg, "SHA-1 and MD5 are not accepted (3GPP TS 33.310)");
        }
        X509CertificateStructure device = SignedRequests.VerifiedSigner(request);
        X509CertificateStructure[] intermediates = request.Message.GetExtraCerts().Skip(1).Select(c => c.X509v3PKCert).Where(c => c is not null).ToArray();
        VendorTrust trust = _trust.GetOrAdd(string.Join('|', trustAnchorFiles) + "#" + string.Join('|', crlFiles),
            _ => VendorTrust.Load(trustAnchorFiles, crlFiles));
        using X509Certificate2 leaf = X509CertificateLoader.LoadCertificate(device.GetEncoded(Asn1Encodable.Der));
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trust.Roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck; // vendor CRLs are checked below, from configuration
        // RFC 9483 §3.3: the signer's chain comes in extraCerts. Never fetch an AIA caIssuers URL that an unverified
        // certificate names: a request would make the silo connect where the sender says, and wait for it.
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.VerificationTime = time.GetUtcNow().UtcDateTime;
        chain.ChainPolicy.VerificationTimeIgnored = false;
        foreach (X509CertificateStructure intermediate in intermediates)
        {
            chain.ChainPolicy.ExtraStore.Add(X509CertificateLoader.LoadCertificate(intermediate.GetEncoded(Asn1Encodable.Der)));
        }
        bool built = chain.Build(leaf);
        X509ChainStatusFlags problems = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
        if (!built || problems != X509ChainStatusFlags.NoError)
        {
            // A chain that does not reach a vendor CA (or is broken) does not authenticate; one that only has a time problem
            // is an expired signing certificate, badRequest in EJBCA's CMP error table.
            bool onlyTime = (problems & X509ChainStatusFlags.NotTimeValid) != 0 && (problems & ~X509ChainStatusFlags.NotTimeValid) == X509ChainStatusFlags.NoError;
            throw onlyTime
                ? new CmpFailureException(PkiFailureInfo.BadRequest, "the vendor certificate chain is expired or not yet valid")
                : new CmpFailureException(PkiFailureInfo.BadMessageCheck, "the vendor certificate does not chain to a vendor CA of this alias");
        }
        X509Certificate2[] path = chain.ChainElements.Select(e => e.Certificate).ToArray();
        foreach (X509Certificate2 certificate in path.Take(path.Length - 1))
        {
            if (Weak(X509CertificateStructure.GetInstance(certificate.RawData).SignatureAlgorithm))
            {
                throw new CmpFailureException(PkiFailureInfo.BadAlg, "the vendor certificate chain is signed with SHA-1 or MD5");
            }
        }
        for (int i = 0; i + 1 < path.Length; i++)
        {
            if (trust.IsRevoked(path[i], path[i + 1]))
            {
                throw new CmpFailureException(PkiFailureInfo.BadRequest, "the vendor certificate chain contains a revoked certificate");
            }
        }
        return device;
    }

    /// <summary>Signature algorithms with SHA-1, MD5 or MD2: ecdsa-with-SHA1, sha1/md5/md2WithRSAEncryption, dsa-with-sha1.</summary>
    private static readonly HashSet<string> WeakSignatures =
        ["1.2.840.10045.4.1", "1.2.840.113549.1.1.5", "1.2.840.113549.1.1.4", "1.2.840.113549.1.1.2", "1.2.840.10040.4.3"];

    /// <summary>TS 33.310: a signature (certificate, protection or POP) with SHA-1 or MD5 is badAlg on a vendor alias.</summary>
    public static bool Weak(AlgorithmIdentifier signatureAlgorithm) => WeakSignatures.Contains(signatureAlgorithm.Algorithm.Id);

    /// <summary>The vendor CAs (trust anchors) and CRLs of an alias, read once per process.</summary>
    private sealed class VendorTrust(X509Certificate2Collection roots, IReadOnlyList<X509Crl> crls)
    {
        public X509Certificate2Collection Roots { get; } = roots;

        public static VendorTrust Load(IEnumerable<string> caFiles, IEnumerable<string> crlFiles)
        {
            var roots = new X509Certificate2Collection();
            foreach (string file in caFiles)
            {
                roots.ImportFromPemFile(file);
            }
            var parser = new X509CrlParser();
            var crls = crlFiles.SelectMany(file => parser.ReadCrls(File.ReadAllBytes(file))).ToArray();
            return new VendorTrust(roots, crls);
        }

        /// <summary>Listed on a CRL of its issuer whose signature verifies with the issuer's key.</summary>
        public bool IsRevoked(X509Certificate2 certificate, X509Certificate2 issuer)
        {
            var bcIssuer = new Org.BouncyCastle.X509.X509Certificate(issuer.RawData);
            Org.BouncyCastle.Math.BigInteger serial = new Org.BouncyCastle.X509.X509Certificate(certificate.RawData).SerialNumber;
            foreach (X509Crl crl in crls.Where(c => c.IssuerDN.Equivalent(bcIssuer.SubjectDN)))
            {
                try
                {
                    crl.Verify(bcIssuer.GetPublicKey());
                }
                catch (Exception e) when (e is Org.BouncyCastle.Security.InvalidKeyException or Org.BouncyCastle.Security.SignatureException or InvalidOperationException)
                {
                    continue; // not this issuer's CRL
                }
                if (crl.GetRevokedCertificate(serial) is not null)
                {
                    return true;
                }
            }
            return false;
        }
    }
}
