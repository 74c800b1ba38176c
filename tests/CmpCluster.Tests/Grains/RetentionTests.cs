using System.Security.Cryptography;
using CmpCluster.Contracts;
using CmpCluster.Protocol.Client;
using Org.BouncyCastle.Asn1.X509;
using Xunit;
using PkiBodyType = CmpCluster.Contracts.PkiBodyType;
using PkiFailureInfo = CmpCluster.Contracts.PkiFailureInfo;

namespace CmpCluster.Tests.Grains;

/// <summary>
/// State that would otherwise grow with every transaction: a closed transaction is kept for its retention (twice the
/// messageTime window by default), then deleted from the store; a replay after that is refused by the messageTime window;
/// a closed transaction leaves memory at once; a request cannot wait forever.
/// </summary>
[Collection(CmpClusterCollection.Name)]
public sealed class RetentionTests(CmpClusterFixture cluster) : IDisposable
{
    /// <summary>Twice the default messageTime window (Cmp:Limits:MessageTimeWindow, 10 minutes).</summary>
    private static readonly TimeSpan Retention = TimeSpan.FromMinutes(20);

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly CmpClientSession _session = CmpClusterFixture.NewSession();

    public void Dispose()
    {
        cluster.Clock.Reset();
        _key.Dispose();
    }

    private byte[] ImplicitIr() =>
        _session.BuildEnrollment(initial: true, new X509Name($"CN=retention-{Guid.NewGuid():N}"), _key, implicitConfirm: true);

    [Fact]
    public async Task A_closed_transaction_is_deleted_from_the_store_once_its_retention_has_passed()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, ImplicitIr());
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        Assert.True(cluster.TransactionStored(Aliases.Pbe, _session));

        cluster.Clock.Advance(Retention - TimeSpan.FromMinutes(1));
        await cluster.SweepAsync();
        Assert.True(cluster.TransactionStored(Aliases.Pbe, _session), "kept within its retention");

        cluster.Clock.Advance(TimeSpan.FromMinutes(2));
        SweepResult sweep = await cluster.SweepAsync();

        Assert.True(sweep.Pruned >= 1);
        Assert.False(cluster.TransactionStored(Aliases.Pbe, _session), "no row left for the closed transaction");
    }

    [Fact]
    public async Task A_replay_after_the_transaction_was_deleted_is_refused_as_badTime_and_issues_nothing()
    {
        byte[] request = ImplicitIr();
        ProtocolAssert.Granted((await cluster.SendAsync(Aliases.Pbe, _session, request)).View, PkiBodyType.Ip);
        cluster.Clock.Advance(Retention + TimeSpan.FromMinutes(1));
        await cluster.SweepAsync();
        Assert.False(cluster.TransactionStored(Aliases.Pbe, _session));

        Exchange replay = await cluster.SendAsync(Aliases.Pbe, _session, request);

        ProtocolAssert.Rejected(replay.View, PkiFailureInfo.BadTime);
        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Pbe, _session);
        Assert.Equal(TransactionPhase.New, snapshot.Phase);
        Assert.Empty(snapshot.CertificateKeys);
        Assert.False(cluster.TransactionStored(Aliases.Pbe, _session), "a refused replay stores nothing");
    }

    [Fact]
    public async Task Within_its_retention_a_retransmission_gets_the_stored_answer_although_the_activation_is_gone()
    {
        byte[] request = ImplicitIr();
        Exchange first = await cluster.SendAsync(Aliases.Pbe, _session, request);
        await WaitDeactivatedAsync();

        Exchange again = await cluster.SendAsync(Aliases.Pbe, _session, request);

        Assert.Equal(first.Response, again.Response);
    }

    [Fact]
    public async Task A_closed_transaction_deactivates_and_an_open_one_stays()
    {
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session,
            _session.BuildEnrollment(initial: true, new X509Name($"CN=retention-{Guid.NewGuid():N}"), _key));
        Assert.True(await IsActiveAsync(), "awaiting its certConf");

        await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        await WaitDeactivatedAsync();
    }

    [Fact]
    public async Task An_ra_enrollment_leaves_no_activation_behind_for_its_end_entity_or_its_certificate_and_indexes_its_dn_in_the_store()
    {
        var subject = new X509Name($"CN=retention-ra-{Guid.NewGuid():N}");
        Exchange ip = await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildEnrollment(initial: true, subject, _key));
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        await cluster.SendAsync(Aliases.Pbe, _session, _session.BuildCertConf(ip.View.CertificateDer!));

        // Alias "ra" names the end entity by its DN (RaNameGeneration Dn); touched once, none of them stays resident.
        string endEntityKey = GrainKeys.EndEntity(subject.ToString());
        string indexKey = CmpCluster.Grains.EndEntities.DnCanonical.Key(subject);
        string serial = X509CertificateStructure.GetInstance(ip.View.CertificateDer!).SerialNumber.Value.ToString(16).ToUpperInvariant();
        string certificateKey = GrainKeys.Certificate("issuing", serial);
        await WaitGoneAsync([cluster.Client.GetGrain<IEndEntityGrain>(endEntityKey).GetGrainId(),
            cluster.Client.GetGrain<ICertificateGrain>(certificateKey).GetGrainId(),
            cluster.Transaction(Aliases.Pbe, _session).GetGrainId()]);
        IEndEntityGrain endEntity = cluster.Internal.GetGrain<IEndEntityGrain>(endEntityKey);
        ICertificateGrain certificate = cluster.Internal.GetGrain<ICertificateGrain>(certificateKey);

        // Gone from memory, kept in the store: the grains read their state back when asked.
        Assert.Equal(subject.ToString(), (await endEntity.GetAsync())?.SubjectDn);
        Assert.Equal(CertificateStatus.Confirmed, (await certificate.GetAsync())?.Status);
        // The DN index entry is a row of the store, written without a grain of its own: the index grain earlier versions
        // used holds nothing for this DN.
        Assert.Equal([subject.ToString()], await cluster.SubjectIndex.FindAsync(indexKey));
        Assert.Empty(await cluster.Internal.GetGrain<IEndEntityIndexGrain>(indexKey).GetAsync());
    }

    [Fact]
    public async Task A_client_mode_end_entity_stays_active_for_the_certConf_it_authenticates_and_goes_after_it()
    {
        string username = "retention-ee-" + Guid.NewGuid().ToString("N")[..10];
        string code = "code-" + Guid.NewGuid().ToString("N")[..12];
        var subject = new X509Name($"CN={username},O=Example");
        IEndEntityGrain endEntity = cluster.Internal.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username));
        Assert.NotNull(await endEntity.RegisterAsync(new EndEntityRegistration(subject.ToString(), [], "issuing", "default", "default", code), replace: false));
        var session = new CmpClientSession(code, username);

        Exchange ip = await cluster.SendAsync(Aliases.Client, session, session.BuildEnrollment(true, subject, _key));
        ProtocolAssert.Granted(ip.View, PkiBodyType.Ip);
        // Its certConf is authenticated with the (consumed) code by this end entity: the activation waits for it instead
        // of going and being read back from the store.
        GrainId id = cluster.Client.GetGrain<IEndEntityGrain>(GrainKeys.EndEntity(username)).GetGrainId();
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        for (int check = 0; check < 5; check++)
        {
            await Task.Delay(100);
            Assert.Contains(id, await management.GetActiveGrains(id.Type));
        }

        Exchange conf = await cluster.SendAsync(Aliases.Client, session, session.BuildCertConf(ip.View.CertificateDer!));
        Assert.Equal(PkiBodyType.PkiConf, conf.View.BodyType);
        await WaitGoneAsync([id]);
        EndEntityView view = (await endEntity.GetAsync())!;
        Assert.Equal(EndEntityStatus.Generated, view.Status);
        Assert.Equal(CertificateStatus.Confirmed, (await cluster.Internal.GetGrain<ICertificateGrain>(Assert.Single(view.CertificateKeys)).GetAsync())!.Status);
    }

    [Fact]
    public async Task A_request_that_waits_past_the_maximum_wait_time_is_rejected_and_leaves_the_approval_list()
    {
        var session = CmpClusterFixture.NewSession();
        Exchange waiting = await cluster.SendAsync(Aliases.Approval, session,
            session.BuildEnrollment(true, new X509Name($"CN=approval-{Guid.NewGuid():N},O=Example"), _key));
        Assert.Equal(TransactionPhase.Waiting, (await cluster.SnapshotAsync(Aliases.Approval, session)).Phase);
        Assert.True(await cluster.HasDeadlineAsync(Aliases.Approval, session));

        cluster.Clock.Advance(new CmpCluster.Protocol.Configuration.CmpOptions().MaxWaitTime + TimeSpan.FromMinutes(1));
        await cluster.SweepAsync();

        TransactionSnapshot snapshot = await cluster.SnapshotAsync(Aliases.Approval, session);
        Assert.Equal(TransactionPhase.Closed, snapshot.Phase);
        Assert.Empty(snapshot.CertificateKeys);
        Assert.False(await cluster.HasDeadlineAsync(Aliases.Approval, session));
        string key = GrainKeys.Transaction(Aliases.Approval, session.TransactionId);
        Assert.DoesNotContain(await cluster.Internal.GetGrain<IApprovalQueueGrain>(GrainKeys.Approvals).ListAsync(), p => p.TransactionKey == key);
    }

    private async Task<bool> IsActiveAsync()
    {
        GrainId id = cluster.Transaction(Aliases.Pbe, _session).GetGrainId();
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        return (await management.GetActiveGrains(id.Type)).Contains(id);
    }

    /// <summary>Polls (bounded) until none of <paramref name="ids"/> is active: deactivation is asynchronous.</summary>
    private async Task WaitGoneAsync(GrainId[] ids)
    {
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        GrainId[] active = ids;
        for (int attempt = 0; attempt < 100 && active.Length > 0; attempt++)
        {
            await Task.Delay(50);
            active = [.. (await Task.WhenAll(ids.Select(async id => (await management.GetActiveGrains(id.Type)).Contains(id) ? id : default)))
                .Where(id => !id.IsDefault)];
        }
        Assert.True(active.Length == 0, "still active: " + string.Join(", ", active));
    }

    /// <summary>Deactivation after DeactivateOnIdle is asynchronous: polled, bounded.</summary>
    private Task WaitDeactivatedAsync() => WaitGoneAsync([cluster.Transaction(Aliases.Pbe, _session).GetGrainId()]);
}
