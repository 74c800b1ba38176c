using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Grains.EndEntities;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1;
using Org.BouncyCastle.Asn1.X509;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>A device with a confirmed certificate: its end entity, subject, key and certificate.</summary>
public sealed record Device(string Username, X509Name Subject, ECDsa Key, byte[] Certificate)
{
    public string CertificateKey => LifecycleDevices.KeyOf(Certificate);

    /// <summary>A client that signs with this device's key and certificate (openssl cmp -cert -key).</summary>
    public CmpClientSession Signer() => new CmpClientSession("unused", Username).SignWith(Key, Certificate);
}

/// <summary>Enrolls devices for the key update and revocation tests, through client mode or an RA.</summary>
public static class LifecycleDevices
{
    public static ECDsa NewKey() => ECDsa.Create(ECCurve.NamedCurves.nistP256);

    public static string KeyOf(byte[] certificateDer) => GrainKeys.Certificate("issuing",
        X509CertificateStructure.GetInstance(Asn1Object.FromByteArray(certificateDer)).SerialNumber.Value.ToString(16).ToUpperInvariant());

    /// <summary>Registers an end entity (username = CN) and enrolls it with its code on the client alias, implicitly confirmed.</summary>
    public static async Task<Device> EnrolledAsync(CmpClusterFixture cluster, string? username = null)
    {
        username ??= "dev-" + Guid.NewGuid().ToString("N")[..10];
        var subject = new X509Name($"CN={username},O=Example");
        await cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username))
            .RegisterAsync(new EndEntityRegistration(subject.ToString(), ["dns:" + username + ".example"], "issuing", "default", "default", "code-" + username), replace: true);
        var session = new CmpClientSession("code-" + username, username);
        ECDsa key = NewKey();
        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, subject, key, implicitConfirm: true));
        return new Device(username, subject, key, ProtocolAssert.Granted(ip.View, PkiBodyType.Ip));
    }

    /// <summary>Enrolls a device through an RA alias with HMAC (the end entity is named by RA name generation).</summary>
    public static async Task<Device> EnrolledByRaAsync(CmpClusterFixture cluster, string alias = Aliases.Pbe)
    {
        var subject = new X509Name($"CN=ra-dev-{Guid.NewGuid():N},O=Example");
        CmpClientSession session = CmpClusterFixture.NewSession();
        ECDsa key = NewKey();
        Exchange ip = await cluster.SendAsync(alias, session, session.BuildEnrollment(true, subject, key, implicitConfirm: true));
        byte[] certificate = ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        string username = Assert.Single(await cluster.SubjectIndex.FindAsync(DnCanonical.Key(subject)));
        return new Device(username, subject, key, certificate);
    }

    public static Task<CertificateRecord?> RecordAsync(CmpClusterFixture cluster, string key) =>
        cluster.Internal.GetGrain<ICertificateGrain>(key).GetAsync();

    public static Task<EndEntityView?> EndEntityAsync(CmpClusterFixture cluster, string username) =>
        cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetAsync();
}
