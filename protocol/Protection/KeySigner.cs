using System.Security.Cryptography;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.Pkcs;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Asn1.X9;
using Org.BouncyCastle.Crypto;

namespace CmpCluster.Protocol.Protection;

/// <summary>
/// Signs through .NET's OpenSSL-backed <see cref="ECDsa"/> / <see cref="RSA"/> (4–18x faster than BouncyCastle's managed
/// signing on the development machine) and exposes itself as a BouncyCastle <see cref="ISignatureFactory"/> so BouncyCastle builders can use it.
/// The algorithm follows the key: ECDSA with the hash matching the curve, RSA PKCS#1 v1.5 with SHA-256. A key that is not
/// a .NET object (one in an HSM) signs through the delegate constructor with the same algorithms (<see cref="ForKey"/>).
/// </summary>
public sealed class KeySigner : ISignatureFactory
{
    private readonly SignFunction _sign;

    /// <summary>Signs <paramref name="data"/> (the whole structure, not its hash) with the algorithm of the signer.</summary>
    public delegate byte[] SignFunction(ReadOnlySpan<byte> data);

    public KeySigner(AsymmetricAlgorithm key)
    {
        (Algorithm, HashAlgorithmName hash) = ForKey(key switch
        {
            ECDsa ec => (true, ec.KeySize),
            RSA rsa => (false, rsa.KeySize),
            _ => throw new ArgumentException("only ECDSA and RSA keys are supported", nameof(key)),
        });
        _sign = key switch
        {
            ECDsa ec => data => ec.SignData(data, hash, DSASignatureFormat.Rfc3279DerSequence),
            RSA rsa => data => rsa.SignData(data.ToArray(), hash, RSASignaturePadding.Pkcs1),
            _ => throw new InvalidOperationException(),
        };
    }

    /// <summary>A signer whose private operation happens elsewhere (a PKCS#11 token): <paramref name="sign"/> returns the
    /// signature in the encoding of <paramref name="algorithm"/> (for ECDSA the DER SEQUENCE of RFC 3279 §2.2.3).</summary>
    public KeySigner(AlgorithmIdentifier algorithm, SignFunction sign)
    {
        Algorithm = algorithm;
        _sign = sign;
    }

    public AlgorithmIdentifier Algorithm { get; }

    public object AlgorithmDetails => Algorithm;

    /// <summary>
    /// The signature algorithm and hash for a key: ECDSA with the hash matching the curve size (RFC 5758 §3.2), RSA
    /// PKCS#1 v1.5 with SHA-256 (RFC 4055 §5: the parameters of sha256WithRSAEncryption are NULL).
    /// </summary>
    public static (AlgorithmIdentifier Algorithm, HashAlgorithmName Hash) ForKey((bool Ec, int KeySize) key) => key switch
    {
        (true, <= 256) => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha256), HashAlgorithmName.SHA256),
        (true, <= 384) => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha384), HashAlgorithmName.SHA384),
        (true, _) => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha512), HashAlgorithmName.SHA512),
        (false, _) => (new AlgorithmIdentifier(PkcsObjectIdentifiers.Sha256WithRsaEncryption, DerNull.Instance), HashAlgorithmName.SHA256),
    };

    public byte[] Sign(ReadOnlySpan<byte> data) => _sign(data);

    public IStreamCalculator<IBlockResult> CreateCalculator() => new Calculator(this);

    private sealed class Calculator(KeySigner signer) : IStreamCalculator<IBlockResult>
    {
        private readonly MemoryStream _buffer = new();

        public Stream Stream => _buffer;

        public IBlockResult GetResult() => new SimpleBlockResult(signer.Sign(_buffer.GetBuffer().AsSpan(0, (int)_buffer.Length)));
    }
}
