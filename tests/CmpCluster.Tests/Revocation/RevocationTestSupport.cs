using System.Diagnostics;
using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.Pki;
using CmpCluster.Tests.Grains;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Org.BouncyCastle.Math;
using Org.BouncyCastle.X509;
using Xunit;

namespace CmpCluster.Tests.Revocation;

/// <summary>Certificate records made directly on their grains, and readers for what the CA publishes.</summary>
internal static class RevocationTestSupport
{
    public const string Ca = "issuing";

    /// <summary>A certificate record as the issuance cycle leaves it: stored, confirmed or awaiting confirmation.</summary>
    public static async Task<string> IssueAsync(CmpClusterFixture cluster, CertificateStatus status = CertificateStatus.Confirmed)
    {
        string serial = NewSerialHex();
        ICertificateGrain grain = Certificate(cluster, serial);
        var issuance = TestIssuance.For(cluster.Ca, serial, $"CN=revocation-{serial[..8]}");
        Assert.NotNull(await grain.IssueAsync(issuance.Intent(Ca, cluster.Clock.GetUtcNow()), issuance.TbsDer, confirmed: status == CertificateStatus.Confirmed));
        return serial;
    }

    public static ICertificateGrain Certificate(CmpClusterFixture cluster, string serialHex) =>
        cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serialHex));

    public static ICertificateAuthorityGrain Authority(CmpClusterFixture cluster) =>
        cluster.Internal.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(Ca));

    public static string NewSerialHex()
    {
        byte[] bytes = RandomNumberGenerator.GetBytes(16);
        bytes[0] = (byte)((bytes[0] & 0x7F) | 0x01);
        return new BigInteger(1, bytes).ToString(16).ToUpperInvariant();
    }

    public static X509Crl Parse(CrlInfo crl) => new X509CrlParser().ReadCrl(crl.Der);

    public static X509CrlEntry? Entry(CrlInfo crl, string serialHex) => Parse(crl).GetRevokedCertificate(new BigInteger(serialHex, 16));

    /// <summary>Polls the published CRL (the debounced issuance is asynchronous) until <paramref name="until"/> holds.</summary>
    public static async Task<CrlInfo> WaitForCrlAsync(CmpClusterFixture cluster, Func<CrlInfo, bool> until, string what)
    {
        var stopwatch = Stopwatch.StartNew();
        CrlInfo crl = await Authority(cluster).GetCrlAsync();
        while (!until(crl))
        {
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(15), $"no CRL with {what} after 15 s (last: number {crl.Number}, {crl.RevokedCount} entries)");
            await Task.Delay(TimeSpan.FromMilliseconds(100));
            crl = await Authority(cluster).GetCrlAsync();
        }
        return crl;
    }

    /// <summary>Verifies an ECDSA signature over <paramref name="signed"/> with the certificate's key, through .NET.</summary>
    public static bool Verifies(KeyHolder signer, byte[] signed, byte[] signature)
    {
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(signer.Certificate.SubjectPublicKeyInfo.GetEncoded(Asn1Encodable.Der), out _);
        return key.VerifyData(signed, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
    }

    public static DateTimeOffset WholeSeconds(DateTimeOffset value) => new(value.UtcTicks - value.UtcTicks % TimeSpan.TicksPerSecond, TimeSpan.Zero);

    public static int? ReasonCode(X509CrlEntry entry) =>
        entry.GetExtensionValue(X509Extensions.ReasonCode) is { } value
            ? DerEnumerated.GetInstance(Asn1Object.FromByteArray(value.GetOctets())).IntValueExact
            : null;
}
