using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Configuration;
using CmpCluster.Protocol.Validation;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Crmf;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;

namespace CmpCluster.Protocol.ServerKeys;

/// <summary>
/// The key pair the CA generates for a request that asks for one (RFC 9483 §4.1.6; RFC 4210 Appendix D.4): an EC key on
/// <see cref="Curve"/> or an RSA key of <see cref="RsaBits"/>. Chosen by <see cref="Choose"/> with the rules of EJBCA's CMP
/// documentation ("Server Generated Keys"): the certificate profile must leave exactly one choice, or the request names
/// the algorithm (and for EC the curve) within what the profile allows. Every refusal is <c>badRequest</c>, as in EJBCA's
/// CMP error table.
/// </summary>
public sealed record ServerKeySpec(string Algorithm, string? Curve, int RsaBits)
{
    /// <summary>
    /// RFC 9483 §4.1.6: the template asks for a key the CA generates when it has no publicKey, or one whose
    /// subjectPublicKey BIT STRING is empty (the algorithm alone says what kind of key).
    /// </summary>
    public static bool IsRequested(CertTemplate template) => template.PublicKey is not { } key || key.PublicKey.GetBytes().Length == 0;

    /// <summary>The key to generate for <paramref name="requested"/> (the template's algorithm-only key, or null) under <paramref name="profile"/>.</summary>
    public static ServerKeySpec Choose(SubjectPublicKeyInfo? requested, CertificateProfileOptions profile)
    {
        string algorithm;
        DerObjectIdentifier? curve = null;
        if (requested is null)
        {
            algorithm = profile.KeyAlgorithms is [var only] ? only.ToUpperInvariant()
                : throw Refused("the certificate profile allows several key algorithms; the request must name one for a server-generated key");
        }
        else
        {
            DerObjectIdentifier type = requested.Algorithm.Algorithm;
            Asn1Encodable? parameters = requested.Algorithm.Parameters;
            bool noParameters = parameters is null or DerNull;
            if (type.Equals(X9ObjectIdentifiers.IdECPublicKey))
            {
                // EJBCA's rules: a named curve, or no parameters (implicitlyCA) when the profile allows one curve only.
                algorithm = "EC";
                curve = parameters as DerObjectIdentifier;
                if (curve is null && !noParameters)
                {
                    throw Refused("the requested EC parameters are not a named curve");
                }
            }
            else if (type.Equals(PkcsObjectIdentifiers.RsaEncryption))
            {
                algorithm = "RSA";
                if (!noParameters)
                {
                    throw Refused("the requested RSA key has parameters; rsaEncryption takes NULL (RFC 8017 Appendix A.1)");
                }
            }
            else
            {
                throw Refused($"the CA does not generate keys of algorithm {type.Id}");
            }
        }
        if (!profile.KeyAlgorithms.Contains(algorithm, StringComparer.OrdinalIgnoreCase))
        {
            throw Refused($"the certificate profile does not allow {algorithm} keys");
        }
        if (algorithm == "RSA")
        {
            return profile.MinRsaBits == profile.MaxRsaBits ? new ServerKeySpec("RSA", null, profile.MinRsaBits)
                : throw Refused("the certificate profile allows several RSA key sizes; a server-generated key needs one (MinRsaBits = MaxRsaBits)");
        }
        string[] curves = profile.Curves.Where(PublicKeyRules.NamedCurves.ContainsKey).ToArray();
        string chosen = curve is not null
            ? curves.FirstOrDefault(name => PublicKeyRules.NamedCurves[name].Oid.Equals(curve))
                ?? throw Refused($"the certificate profile does not allow the curve {curve.Id}")
            : curves is [var single] ? single
            : throw Refused("the certificate profile allows several curves; the request must name one for a server-generated key");
        return new ServerKeySpec("EC", chosen, 0);
    }

    /// <summary>Generates the key pair: OpenSSL underneath .NET's <see cref="ECDsa"/> / <see cref="RSA"/>.</summary>
    public GeneratedKey Generate()
    {
        AsymmetricAlgorithm key = Algorithm == "RSA"
            ? RSA.Create(RsaBits)
            : ECDsa.Create(Curve switch
            {
                "P-256" => ECCurve.NamedCurves.nistP256,
                "P-384" => ECCurve.NamedCurves.nistP384,
                _ => ECCurve.NamedCurves.nistP521,
            });
        using (key)
        {
            return new GeneratedKey(
                SubjectPublicKeyInfo.GetInstance(Asn1Object.FromByteArray(key.ExportSubjectPublicKeyInfo())),
                key.ExportPkcs8PrivateKey());
        }
    }

    /// <summary>The key's algorithm with an empty subjectPublicKey: what stands for the key until it is generated (plug-ins see this).</summary>
    public SubjectPublicKeyInfo AlgorithmOnly => new(Algorithm == "RSA"
        ? new AlgorithmIdentifier(PkcsObjectIdentifiers.RsaEncryption, DerNull.Instance)
        : new AlgorithmIdentifier(X9ObjectIdentifiers.IdECPublicKey, PublicKeyRules.NamedCurves[Curve!].Oid), Array.Empty<byte>());

    public override string ToString() => Algorithm == "RSA" ? $"RSA {RsaBits}" : $"EC {Curve}";

    private static CmpFailureException Refused(string text) => new(PkiFailureInfo.BadRequest, text);
}

/// <summary>
/// A generated key pair: the public key to certify, and the private key as PKCS#8 PrivateKeyInfo (RFC 5958
/// OneAsymmetricKey v1) that only the key package carries, encrypted. Disposing wipes it.
/// </summary>
public sealed class GeneratedKey(SubjectPublicKeyInfo publicKey, byte[] privateKeyInfo) : IDisposable
{
    public SubjectPublicKeyInfo PublicKey { get; } = publicKey;

    /// <summary>DER PrivateKeyInfo. Never stored, never logged; wiped by <see cref="Dispose"/>.</summary>
    public byte[] PrivateKeyInfo { get; } = privateKeyInfo;

    public void Dispose() => CryptographicOperations.ZeroMemory(PrivateKeyInfo);
}
