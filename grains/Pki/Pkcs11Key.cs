using System.Security.Cryptography;
using CmpCluster.Protocol.Protection;
using Net.Pkcs11Interop.Common;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Nist;
using Org.BouncyCastle.Asn1.X509;

namespace CmpCluster.Grains.Pki;

/// <summary>
/// A private key on a PKCS#11 token: the token signs, the key never leaves it. The hash is computed here and only the
/// digest goes to the token (CKM_ECDSA over the hash, CKM_RSA_PKCS over the DigestInfo: PKCS#11 v2.40 mechanisms §2.3.6,
/// §2.1.6), so any token that signs raw does, and a large TBSCertificate is not copied into it.
/// </summary>
public sealed class Pkcs11Key : IPrivateKey
{
    private readonly Pkcs11Token _token;
    private readonly string _name;
    private readonly string _label;
    private readonly string? _siloSecretLabel;
    private readonly bool _ec;
    private readonly HashAlgorithmName _hash;

    /// <param name="name">The key ring's name of the key, for messages and metrics.</param>
    /// <param name="ec">ECDSA (true) or RSA, with <paramref name="keySize"/>: from the certificate, whose key the token's must be.</param>
    public Pkcs11Key(Pkcs11Token token, string name, string label, bool ec, int keySize, string? siloSecretLabel)
    {
        _token = token;
        _name = name;
        _label = label;
        _ec = ec;
        _siloSecretLabel = siloSecretLabel;
        (AlgorithmIdentifier algorithm, _hash) = KeySigner.ForKey((ec, keySize));
        Signer = new KeySigner(algorithm, Sign);
    }

    public KeySigner Signer { get; }

    public string? Fault => _token.Fault;

    public Pkcs11Token Token => _token;

    public bool Probe() => _token.Probe();

    public string Label => _label;

    private byte[] Sign(ReadOnlySpan<byte> data)
    {
        byte[] digest = Hash(data);
        byte[] input = _ec ? digest : DigestInfo(digest);
        byte[] signature = _token.Use(_name, session =>
            session.Sign(Pkcs11Token.Mechanism(_ec ? CKM.CKM_ECDSA : CKM.CKM_RSA_PKCS), _token.Find(session, CKO.CKO_PRIVATE_KEY, _label), input));
        return _ec ? EcdsaDer(signature) : signature;
    }

    /// <summary>CKM_SHA256_HMAC (PKCS#11 v2.40 mechanisms §4.20) with the CA's silo secret key on the token.</summary>
    public byte[] DeriveSecret(string name, string label)
    {
        if (_siloSecretLabel is null)
        {
            throw new InvalidOperationException($"key '{name}' is on a token and has no silo secret key (Pki:CaKeys:{{ca}}:SiloSecretLabel)");
        }
        byte[] data = System.Text.Encoding.UTF8.GetBytes(label);
        return _token.Use(name, session =>
            session.Sign(Pkcs11Token.Mechanism(CKM.CKM_SHA256_HMAC), _token.Find(session, CKO.CKO_SECRET_KEY, _siloSecretLabel), data));
    }

    private byte[] Hash(ReadOnlySpan<byte> data) => _hash.Name switch
    {
        "SHA384" => SHA384.HashData(data),
        "SHA512" => SHA512.HashData(data),
        _ => SHA256.HashData(data),
    };

    /// <summary>RFC 8017 §9.2 step 2: the DigestInfo that PKCS#1 v1.5 signs (SHA-256 for RSA, <see cref="KeySigner.ForKey"/>).</summary>
    private static byte[] DigestInfo(byte[] digest) =>
        new DigestInfo(new AlgorithmIdentifier(NistObjectIdentifiers.IdSha256, DerNull.Instance), digest).GetEncoded(Asn1Encodable.Der);

    /// <summary>CKM_ECDSA returns r ‖ s, each the size of the order (PKCS#11 v2.40 mechanisms §2.3.1); X.509 wants
    /// SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3).</summary>
    private static byte[] EcdsaDer(byte[] raw)
    {
        int half = raw.Length / 2;
        return new DerSequence(
            new DerInteger(new Org.BouncyCastle.Math.BigInteger(1, raw, 0, half)),
            new DerInteger(new Org.BouncyCastle.Math.BigInteger(1, raw, half, half))).GetEncoded(Asn1Encodable.Der);
    }
}
