using CmpCluster.Contracts;
using CmpCluster.Tests.Grains;
using Xunit;

namespace CmpCluster.Tests.TrustBoundary;

/// <summary>
/// A client of the cluster (a gateway, or anything that reaches the client port) may call the gateway-facing interfaces
/// only. Every silo-internal interface refuses it, and the refused call changes nothing.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class InternalInterfaceTests(CmpClusterFixture cluster)
{
    private const string Ca = "issuing";

    public static TheoryData<string> RefusedCalls() =>
    [
        "certificate.Get", "certificate.Issue", "certificate.Revoke", "certificate.Confirm", "certificate.ExpireIfDue",
        "endEntity.Get", "endEntity.Register", "endEntity.Reset", "endEntity.BeginEnrollment",
        "index.Get", "ca.IssueCrl", "ca.TrackRevocation", "ca.RevocationWritten", "approvals.List", "approvals.Add",
        "transaction.HandleNested", "transaction.ExpireIfDue", "transaction.DecideApproval", "transaction.GetSnapshot",
        "caStatus.SetEnabled",
    ];

    [Theory]
    [MemberData(nameof(RefusedCalls))]
    public async Task A_client_cannot_call_a_silo_internal_interface(string call)
    {
        IClusterClient client = cluster.Client;
        string serial = Revocation.RevocationTestSupport.NewSerialHex();
        var intent = new CertificateIntent(Ca, serial, "CN=forged", "forger", "forged/1", DateTimeOffset.UtcNow);
        var registration = new EndEntityRegistration("CN=forged", [], Ca, "default", "default", "forged-code-1");
        string transaction = GrainKeys.Transaction(Aliases.Pbe, new byte[16]);
        Func<Task> attempt = call switch
        {
            "certificate.Get" => () => client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial)).GetAsync(),
            "certificate.Issue" => () => client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial)).IssueAsync(intent, [0x30, 0x00], true),
            "certificate.Revoke" => () => client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial))
                .RevokeAsync(new RevocationRequest(RevocationReason.KeyCompromise, "forged")),
            "certificate.Confirm" => () => client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial)).ConfirmAsync(),
            "certificate.ExpireIfDue" => () => client.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial)).ExpireIfDueAsync(),
            "endEntity.Get" => () => client.GetGrain<IEndEntityGrain>("forged-" + serial).GetAsync(),
            "endEntity.Register" => () => client.GetGrain<IEndEntityGrain>("forged-" + serial).RegisterAsync(registration, replace: true),
            "endEntity.Reset" => () => client.GetGrain<IEndEntityGrain>("forged-" + serial).ResetAsync("forged-code-2"),
            "endEntity.BeginEnrollment" => () => client.GetGrain<IEndEntityGrain>("forged-" + serial)
                .BeginEnrollmentAsync(transaction, new EnrollmentProof("forged-code-1", null, null, null)),
            "index.Get" => () => client.GetGrain<IEndEntityIndexGrain>(GrainKeys.SubjectIndex("cn=forged")).GetAsync(),
            "ca.IssueCrl" => () => client.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(Ca)).IssueCrlAsync(),
            "ca.TrackRevocation" => () => client.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(Ca)).TrackRevocationAsync(serial),
            "ca.RevocationWritten" => () => client.GetGrain<ICertificateAuthorityGrain>(GrainKeys.CertificateAuthority(Ca))
                .RevocationWrittenAsync(serial, RevokedEntry.Create(DateTimeOffset.UtcNow, RevocationReason.KeyCompromise, null, DateTimeOffset.UtcNow.AddDays(1))),
            "approvals.List" => () => client.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(),
            "approvals.Add" => () => client.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals)
                .AddAsync(new PendingApproval(transaction, Aliases.Pbe, "forger", "CN=forged", "default", PkiBodyType.Ir, DateTimeOffset.UtcNow)),
            "transaction.HandleNested" => () => client.GetGrain<ITransactionControlGrain>(transaction).HandleNestedAsync(new CmpRequest(Aliases.Pbe, [0x30, 0x00])),
            "transaction.ExpireIfDue" => () => client.GetGrain<ITransactionControlGrain>(transaction).ExpireIfDueAsync(),
            "transaction.DecideApproval" => () => client.GetGrain<ITransactionControlGrain>(transaction).DecideApprovalAsync(true, "forger"),
            "transaction.GetSnapshot" => () => client.GetGrain<ITransactionControlGrain>(transaction).GetSnapshotAsync(),
            "caStatus.SetEnabled" => () => client.GetGrain<ICaStatusGrain>(Ca).SetEnabledAsync(false, "forger"),
            _ => throw new ArgumentOutOfRangeException(nameof(call)),
        };

        await Assert.ThrowsAsync<InternalInterfaceException>(attempt);

        // Nothing happened: no record for the serial, no end entity, nobody waiting.
        Assert.Null(await cluster.Internal.GetGrain<ICertificateGrain>(GrainKeys.Certificate(Ca, serial)).GetAsync());
        Assert.Null(await cluster.Internal.GetGrain<IEndEntityGrain>("forged-" + serial).GetAsync());
        Assert.DoesNotContain(await cluster.Internal.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(), p => p.Requester == "forger");
        Assert.True(await cluster.Internal.GetGrain<ICaStatusGrain>(Ca).IsEnabledAsync());
    }

    [Fact]
    public async Task A_client_can_use_the_gateway_facing_interfaces()
    {
        IClusterClient client = cluster.Client;
        Assert.NotEmpty(await client.GetGrain<ICaDirectoryGrain>(GrainKeys.Admin).ListAsync());
        Assert.True((await client.GetGrain<ICrlGrain>(GrainKeys.CertificateAuthority(Ca)).GetCrlAsync()).Number > 0);
        AdminReply<CertificateRecord> missing = await client.GetGrain<IAdminGrain>(GrainKeys.Admin).GetCertificateAsync(Ca, "7F");
        Assert.Equal(AdminStatus.NotFound, missing.Status);
    }
}
