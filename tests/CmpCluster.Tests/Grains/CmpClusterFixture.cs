using System.Collections.Concurrent;
using CmpCluster.Contracts;
using CmpCluster.Grains;
using CmpCluster.Grains.Audit;
using CmpCluster.Grains.Pki;
using CmpCluster.Grains.Internal;
using CmpCluster.Grains.Revocation;
using CmpCluster.Grains.Storage;
using CmpCluster.Grains.Transactions;
using CmpCluster.Silo.Storage;
using CmpCluster.Protocol.Client;
using CmpCluster.Protocol.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Orleans;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;
using Xunit;

namespace CmpCluster.Tests.Grains;

/// <summary>Every grain test class shares one silo; xunit runs the classes of one collection one after another.</summary>
[CollectionDefinition(Name)]
public sealed class CmpClusterCollection : ICollectionFixture<CmpClusterFixture>
{
    public const string Name = "CMP grain cluster";
}

/// <summary>The aliases the fixture configures, named by what makes each one different.</summary>
public static class Aliases
{
    public const string Secret = "s3cret";

    /// <summary>HMAC authentication, MAC-protected responses.</summary>
    public const string Pbe = "ra";

    /// <summary>HMAC authentication, responses signed by the CMP signer.</summary>
    public const string Signed = "ra-sig";

    public const string RaVerified = "ra-raverified";

    public const string NoImplicitConfirm = "ra-noimplicit";

    /// <summary>As <see cref="Pbe"/>, but messageTime may be absent (RequireMessageTime false).</summary>
    public const string NoMessageTime = "ra-notime";

    /// <summary>Client mode: HMAC, then RegTokenPwd, then DnPartPwd (UID); username from the CN; MAC-protected responses.</summary>
    public const string Client = "client";

    /// <summary>Client mode with EJBCA's default user lookup by the whole subject DN: HMAC, then DnPartPwd (UID).</summary>
    public const string ClientByDn = "client-dn";

    /// <summary>Client mode authenticated by a certificate the end entity already has (EndEntityCertificate).</summary>
    public const string ClientByCertificate = "client-cert";

    /// <summary>RA mode whose HMAC module has no secret: the CA's RA secret (Pki:CmpRaSecret) serves.</summary>
    public const string CaSecret = "ra-casecret";
    public const string CaRaSecret = "ca-ra-secret";

    /// <summary>RA mode taking the CA from the senderKID (EJBCA's CMP documentation: "KeyID").</summary>
    public const string KeyIdCa = "ra-keyid-ca";

    /// <summary>RA mode taking the certificate profile from the senderKID.</summary>
    public const string KeyIdProfile = "ra-keyid-profile";

    /// <summary>Client mode by certificate that allows kur with the same key and revokes the updated certificate.</summary>
    public const string ClientRenewSupersedes = "client-cert-supersede";

    /// <summary>RA mode: an RA administrator's certificate (end entity <see cref="RaAdministrator"/>) or the HMAC secret.</summary>
    public const string RaAdmin = "ra-admin";
    public const string RaAdministrator = "ra-administrator";

    /// <summary>As <see cref="RaAdmin"/>, and unprotected messages inside the administrator's nested messages are accepted.</summary>
    public const string RaAdminTrustsInner = "ra-admin-nested";

    /// <summary>RA mode whose nested messages may come from an RA of another PKI (NestedRaTrustAnchors).</summary>
    public const string PartnerRa = "ra-partner";

    /// <summary>RA mode HMAC issuing under the profile "approval": every request waits for an operator (RFC 9483 §4.4).</summary>
    public const string Approval = "ra-approval";
    /// <summary>RA alias whose enrollments the device-inventory plug-in decides (unlisted: notAuthorized).</summary>
    public const string Inventory = "ra-inventory";
    /// <summary>Same inventory, an unlisted device waits and polls.</summary>
    public const string InventoryDefer = "ra-inventory-defer";
    /// <summary>RA alias with a plug-in loaded from an assembly (this test assembly), and one that never answers in time.</summary>
    public const string CustomPolicy = "ra-custom-policy";
    public const string SlowPolicy = "ra-slow-policy";
    /// <summary>RA alias whose plug-in adjusts subject, names and validity (profile "san-dns": DNS names only).</summary>
    public const string AdjustingPolicy = "ra-adjusting-policy";
    /// <summary>RA alias whose created end entities have the "gnb" end-entity profile (DN rules: CN required, O fixed, C default, OU optional).</summary>
    public const string EndEntityProfile = "ra-eeprofile";

    /// <summary>RA mode HMAC with its own MAC floors (at least 1000 iterations, HMAC-SHA256 over SHA-256 only) and a
    /// 30-second messageTime window.</summary>
    public const string StrictMac = "ra-strict-mac";

    /// <summary>RA mode HMAC issuing under the profile "hold", which allows certificateHold.</summary>
    public const string Hold = "ra-hold";

    /// <summary>RA mode HMAC with server-generated keys (the senderKID names the profile) and the legacy EncryptedValue form.</summary>
    public const string ServerKeys = "ra-serverkeys";

    /// <summary>RA mode by RA administrator certificates (<see cref="RaAdministrator"/>, <see cref="RaAdministratorRsa"/>) with server-generated keys (profile "ec-p256").</summary>
    public const string ServerKeysSigned = "ra-serverkeys-sig";
    public const string RaAdministratorRsa = "ra-administrator-rsa";

    /// <summary>RA mode, the senderKID names the certificate profile, the end-entity profile "gnb" allows only "default".</summary>
    public const string EndEntityProfileKeyId = "ra-eeprofile-keyid";

    /// <summary>Client mode (HMAC, then EndEntityCertificate for key updates) with server-generated keys and the legacy EncryptedValue form.</summary>
    public const string ClientServerKeys = "client-serverkeys";
}

/// <summary>
/// One in-process silo wired like silo/Program.cs: storage "cmp" (in memory here), reminders (in memory), the
/// key ring singleton, CmpOptions configured in code, and a clock the tests can move.
/// </summary>
public sealed class CmpClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan CrlDebounce = TimeSpan.FromMilliseconds(200);

    private InProcessTestCluster? _cluster;

    public ShiftableClock Clock { get; } = new();

    public AuditLog Audit { get; } = new();

    public PkiKeyRing Keys => TestPki.KeyRing;

    public CertificateAuthorityKeys Ca => Keys.FindAuthority(new PkiOptions().CaName)!;

    /// <summary>
    /// Calls of <see cref="ICertificateGrain.GetAsync"/> by certificate grain, counted as they arrive at the silo: a CRL
    /// built from the CA's own revocation list reads none.
    /// </summary>
    public ConcurrentDictionary<GrainId, int> CertificateReads { get; } = new();

    /// <summary>The in-memory audit store of the silo: what was recorded, and a switch that makes it fail.</summary>
    public InMemoryAuditStore AuditStore => SiloServices.GetRequiredService<InMemoryAuditStore>();

    /// <summary>The silo's container, for what only the silo sees (the reminder table).</summary>
    public IServiceProvider SiloServices => (_cluster ?? throw new InvalidOperationException("cluster not started")).GetSiloServiceProvider();

    public IClusterClient Client => (_cluster ?? throw new InvalidOperationException("cluster not started")).Client;

    /// <summary>Silo-internal grains, called from inside the silo (the test client itself is refused, as any client is).</summary>
    public InSilo Internal => new(Client);

    public async Task InitializeAsync()
    {
        var builder = new InProcessTestClusterBuilder(1);
        builder.Options.ConfigureFileLogging = false;
        builder.ConfigureSilo((_, silo) =>
        {
            // Certificates, end entities and CA state, and the transactions in their own table, in a real SQLite file as on a
            // single node: deadlines (a transaction's, a certificate's awaiting confirmation) and retention are the store's work.
            silo.AddSqliteGrainStorage(GrainNames.Storage, o => o.DataDirectory = StoreDirectory);
            silo.AddSqliteGrainStorage(GrainNames.Transactions, o => (o.DataDirectory, o.TableName) = (StoreDirectory, CmpCluster.Silo.SiloProviders.TransactionTable));
            // Orleans' binary format, as the node's stores use (silo/Program.cs): state read back after a deactivation must be
            // what production reads back.
            foreach (string provider in new[] { GrainNames.Storage, GrainNames.Transactions })
            {
                silo.Services.AddKeyedSingleton<Orleans.Storage.IGrainStorageSerializer>(provider,
                    (sp, _) => new Orleans.Storage.OrleansGrainStorageSerializer(sp.GetRequiredService<Orleans.Serialization.Serializer>()));
            }
            silo.UseInMemoryReminderService();
            // Before AddCmpGrains, whose TryAddSingleton(TimeProvider.System) must not win.
            silo.Services.AddSingleton<TimeProvider>(Clock);
            silo.Services.AddSingleton<ILoggerProvider>(Audit);
            silo.Services.AddOptions<PkiOptions>().Configure(o =>
            {
                o.CmpRaSecret = Aliases.CaRaSecret;
                // Revocation tests poll for the debounced CRL; a short debounce keeps them quick.
                o.Crl.Debounce = CrlDebounce;
                // genm tests: a root rollover announced to clients.
                o.RootCaUpdate = RootRollover.Files;
            });
            silo.Services.AddOptions<CmpOptions>().Configure(ConfigureCmp);
            silo.Services.AddCmpGrains();
            // The DN index in the store, as the node keeps it (silo/SiloProviders.cs), in the transactions' SQLite file.
            CmpCluster.Silo.SiloProviders.UseSubjectIndex(silo.Services,
                _ => new CmpCluster.Silo.Storage.SqliteSubjectIndex(new CmpCluster.Silo.Storage.SqliteStoreOptions { DataDirectory = StoreDirectory }));
            silo.Services.AddCmpAudit().AddInMemoryAuditStore();
            silo.Services.AddSingleton(TestPki.KeyRing);
            // As silo/Program.cs: every CA's CRL reminder is registered at start.
            silo.AddRevocationPublishing();
            silo.AddIncomingGrainCallFilter(context =>
            {
                if (context.InterfaceMethod is { Name: nameof(ICertificateGrain.GetAsync) } method && method.DeclaringType == typeof(ICertificateGrain))
                {
                    CertificateReads.AddOrUpdate(context.TargetId, 1, (_, count) => count + 1);
                }
                return context.Invoke();
            });
        });
        _cluster = builder.Build();
        await _cluster.DeployAsync();
        if (_cluster.GetSiloServiceProvider().GetRequiredService<TimeProvider>() != Clock)
        {
            throw new InvalidOperationException("the silo does not use the test clock");
        }
    }

    public async Task DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.StopAllSilosAsync();
            await _cluster.DisposeAsync();
        }
        if (Directory.Exists(StoreDirectory))
        {
            Directory.Delete(StoreDirectory, recursive: true);
        }
    }

    /// <summary>Where the transaction store's SQLite file lives for this fixture.</summary>
    public string StoreDirectory { get; } = Path.Combine(Path.GetTempPath(), "cmp-grain-store-" + Guid.NewGuid().ToString("N"));

    /// <summary>The transaction store's deadline index and expiry (what the deadline sweeper reads).</summary>
    /// <summary>The silo's subject-DN index (the store's own, with what index grains of earlier versions hold), called from inside the silo.</summary>
    public CmpCluster.Grains.EndEntities.ISubjectIndex SubjectIndex =>
        new InSiloSubjectIndex(Internal, SiloServices.GetRequiredService<CmpCluster.Grains.EndEntities.ISubjectIndex>());

    /// <summary>The index's calls to index grains are silo-internal: made from a grain, as the end-entity grains make them.</summary>
    private sealed class InSiloSubjectIndex(InSilo silo, CmpCluster.Grains.EndEntities.ISubjectIndex index) : CmpCluster.Grains.EndEntities.ISubjectIndex
    {
        public Task AddAsync(string dnKey, string username) => silo.RunAsync(_ => index.AddAsync(dnKey, username));

        public Task RemoveAsync(string dnKey, string username) => silo.RunAsync(_ => index.RemoveAsync(dnKey, username));

        public Task<IReadOnlyList<string>> FindAsync(string dnKey) => silo.RunAsync(_ => index.FindAsync(dnKey));
    }

    public IStateLifetimeIndex TransactionIndex => SiloServices.GetRequiredKeyedService<IStateLifetimeIndex>(GrainNames.Transactions);

    /// <summary>Whether the session's transaction has a deadline in the store's index (due at any time).</summary>
    public async Task<bool> HasDeadlineAsync(string alias, CmpClientSession session) =>
        (await TransactionIndex.DueAsync(DateTimeOffset.MaxValue, int.MaxValue)).Contains(Transaction(alias, session).GetGrainId());

    /// <summary>Whether the store still holds the session's transaction (a row in the SQLite file).</summary>
    public bool TransactionStored(string alias, CmpClientSession session)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(StoreDirectory, "cluster.db")};Mode=ReadOnly;Pooling=False");
        connection.Open();
        using Microsoft.Data.Sqlite.SqliteCommand command = connection.CreateCommand();
        command.CommandText = $"SELECT COUNT(*) FROM {CmpCluster.Silo.SiloProviders.TransactionTable} WHERE provider = $p AND grain_id = $g";
        command.Parameters.AddWithValue("$p", GrainNames.Transactions);
        command.Parameters.AddWithValue("$g", Transaction(alias, session).GetGrainId().ToString());
        return (long)command.ExecuteScalar()! > 0;
    }

    /// <summary>One run of the cluster's deadline sweeper, as its reminder would do.</summary>
    public Task<SweepResult> SweepAsync() => Internal.GetGrain<IDeadlineSweeperGrain>(IDeadlineSweeperGrain.DeadlineSweeperKey).SweepAsync();

    /// <summary>The device inventory of the fixture's inventory aliases (DeviceInventoryPolicy); tests add lines to it.</summary>
    public static readonly string InventoryFile = Path.Combine(Path.GetTempPath(), $"cmp-inventory-{Environment.ProcessId}.txt");

    private static void ConfigureCmp(CmpOptions options)
    {
        options.Profiles["default"] = new CertificateProfileOptions();
        options.Aliases[Aliases.Pbe] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe };
        options.Aliases[Aliases.NoMessageTime] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, RequireMessageTime = false };
        options.Aliases[Aliases.Signed] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Signature };
        options.Aliases[Aliases.RaVerified] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, AllowRaVerifiedPop = true,
        };
        options.Aliases[Aliases.Client] = new CmpAliasOptions
        {
            Mode = AliasMode.Client, ResponseProtection = ResponseProtection.Pbe, UserLookup = UserLookup.Cn, DnPartPwdComponent = "UID",
            AuthenticationModules = ["HMAC", "RegTokenPwd", "DnPartPwd"],
        };
        options.Aliases[Aliases.ClientByDn] = new CmpAliasOptions
        {
            Mode = AliasMode.Client, ResponseProtection = ResponseProtection.Pbe, UserLookup = UserLookup.Dn,
            AuthenticationModules = ["HMAC", "DnPartPwd"],
        };
        options.Aliases[Aliases.CaSecret] = new CmpAliasOptions { ResponseProtection = ResponseProtection.Pbe };
        options.Aliases[Aliases.KeyIdCa] = new CmpAliasOptions { Secret = Aliases.Secret, Ca = CmpAliasOptions.KeyId };
        options.Aliases[Aliases.KeyIdProfile] = new CmpAliasOptions { Secret = Aliases.Secret, CertificateProfile = CmpAliasOptions.KeyId };
        options.Aliases[Aliases.ClientByCertificate] = new CmpAliasOptions
        {
            Mode = AliasMode.Client, UserLookup = UserLookup.Cn, AuthenticationModules = ["EndEntityCertificate"],
        };
        options.Profiles["hold"] = new CertificateProfileOptions { AllowCertificateHold = true };
        options.Profiles["ec-p384"] = new CertificateProfileOptions { AllowedKeyAlgorithms = ["EC"], AllowedCurves = ["P-384"] };
        options.Profiles["usage-override"] = new CertificateProfileOptions { AllowKeyUsageOverride = true, AllowExtendedKeyUsageOverride = true };
        options.Profiles["validity-30"] = new CertificateProfileOptions { ValidityDays = 10, AllowValidityOverride = true, MaxValidityDays = 30 };
        options.Profiles["approval"] = new CertificateProfileOptions { RequireApproval = true };
        options.Profiles["ec-p256"] = new CertificateProfileOptions { AllowedKeyAlgorithms = ["EC"], AllowedCurves = ["P-256"] };
        options.Profiles["approval-p256"] = new CertificateProfileOptions { RequireApproval = true, AllowedKeyAlgorithms = ["EC"], AllowedCurves = ["P-256"] };
        options.Profiles["san-dns"] = new CertificateProfileOptions { AllowedSubjectAltNameTypes = ["dns"] };
        options.Profiles["strict"] = new CertificateProfileOptions
        {
            AllowedSubjectAltNameTypes = ["dns", "ip"], UnacceptedRequestContent = UnacceptedRequestContent.Refuse,
        };
        options.Profiles["ec-any"] = new CertificateProfileOptions { AllowedKeyAlgorithms = ["EC"] };
        options.Profiles["rsa-2048"] = new CertificateProfileOptions { AllowedKeyAlgorithms = ["RSA"], MinRsaBits = 2048, MaxRsaBits = 2048 };
        options.Aliases[Aliases.ServerKeys] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, CertificateProfile = CmpAliasOptions.KeyId,
            AllowServerGeneratedKeys = true, ServerKeysAsEncryptedValue = true,
        };
        options.Aliases[Aliases.ServerKeysSigned] = new CmpAliasOptions
        {
            AuthenticationModules = ["EndEntityCertificate"], RaAdministrators = [Aliases.RaAdministrator, Aliases.RaAdministratorRsa],
            CertificateProfile = "ec-p256", AllowServerGeneratedKeys = true,
        };
        options.Aliases[Aliases.ClientServerKeys] = new CmpAliasOptions
        {
            Mode = AliasMode.Client, ResponseProtection = ResponseProtection.Pbe, UserLookup = UserLookup.Cn, AuthenticationModules = ["HMAC", "EndEntityCertificate"],
            AllowServerGeneratedKeys = true, ServerKeysAsEncryptedValue = true,
        };
        if (!File.Exists(InventoryFile))
        {
            File.WriteAllText(InventoryFile, "# devices allowed to enroll\n");
        }
        options.PolicyTimeout = TimeSpan.FromSeconds(1);
        options.Policies["inventory"] = new EnrollmentPolicyOptions { Kind = "DeviceInventory", InventoryFile = InventoryFile };
        options.Policies["inventory-defer"] = new EnrollmentPolicyOptions { Kind = "DeviceInventory", InventoryFile = InventoryFile, DeferUnknown = true };
        options.Policies["custom"] = new EnrollmentPolicyOptions
        {
            Kind = "Assembly", AssemblyPath = typeof(CmpClusterFixture).Assembly.Location, TypeName = typeof(CommonNameSuffixPolicy).FullName,
            Settings = { ["Suffix"] = "-allowed" },
        };
        options.Policies["adjust"] = new EnrollmentPolicyOptions
        {
            Kind = "Assembly", AssemblyPath = typeof(CmpClusterFixture).Assembly.Location, TypeName = typeof(AdjustingPolicy).FullName,
        };
        options.Aliases[Aliases.AdjustingPolicy] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EnrollmentPolicies = ["adjust"], CertificateProfile = "san-dns",
        };
        options.Policies["slow"] = new EnrollmentPolicyOptions
        {
            Kind = "Assembly", AssemblyPath = typeof(CmpClusterFixture).Assembly.Location, TypeName = typeof(NeverDecidingPolicy).FullName,
        };
        options.Aliases[Aliases.Inventory] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EnrollmentPolicies = ["inventory"] };
        options.Aliases[Aliases.InventoryDefer] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EnrollmentPolicies = ["inventory-defer"] };
        options.Aliases[Aliases.CustomPolicy] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EnrollmentPolicies = ["custom"] };
        options.EndEntityProfiles["gnb"] = new EndEntityProfileOptions
        {
            Fields =
            {
                ["CN"] = new DnFieldRule { Use = DnFieldUse.Required },
                ["O"] = new DnFieldRule { Use = DnFieldUse.Fixed, Value = "Operator" },
                ["C"] = new DnFieldRule { Use = DnFieldUse.Default, Value = "DE" },
                ["OU"] = new DnFieldRule(),
            },
            AllowedCertificateProfiles = ["default"],
        };
        options.Aliases[Aliases.EndEntityProfile] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EndEntityProfile = "gnb" };
        options.Aliases[Aliases.EndEntityProfileKeyId] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EndEntityProfile = "gnb", CertificateProfile = CmpAliasOptions.KeyId,
        };
        options.Aliases[Aliases.SlowPolicy] = new CmpAliasOptions { Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, EnrollmentPolicies = ["slow"] };
        options.Aliases[Aliases.Approval] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, CertificateProfile = "approval",
        };
        options.Aliases[Aliases.ClientRenewSupersedes] = new CmpAliasOptions
        {
            Mode = AliasMode.Client, UserLookup = UserLookup.Cn, AuthenticationModules = ["EndEntityCertificate"],
            AllowKeyUpdateWithSameKey = true, RevokeUpdatedCertificate = true,
        };
        options.Aliases[Aliases.RaAdmin] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, AuthenticationModules = ["EndEntityCertificate", "HMAC"], RaAdministrators = [Aliases.RaAdministrator],
        };
        options.Aliases[Aliases.PartnerRa] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, AuthenticationModules = ["HMAC"], NestedRaTrustAnchors = [ForeignRa.AnchorPath],
        };
        options.Aliases[Aliases.RaAdminTrustsInner] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, AuthenticationModules = ["EndEntityCertificate", "HMAC"], RaAdministrators = [Aliases.RaAdministrator],
            AcceptUnprotectedInnerMessages = true,
        };
        options.Aliases[Aliases.Hold] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, CertificateProfile = "hold",
        };
        options.Aliases[Aliases.StrictMac] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, MessageTimeWindow = TimeSpan.FromSeconds(30),
            MacProtection = new MacProtectionOptions { MinIterations = 1000, AllowedMacAlgorithms = ["HMAC-SHA256"], AllowedOneWayFunctions = ["SHA256"] },
        };
        options.Aliases[Aliases.NoImplicitConfirm] = new CmpAliasOptions
        {
            Secret = Aliases.Secret, ResponseProtection = ResponseProtection.Pbe, AllowImplicitConfirm = false,
        };
    }

    /// <summary>A client for a fresh transaction that knows the alias secret.</summary>
    public static CmpClientSession NewSession(string secret = Aliases.Secret) => new(secret, "ra-test");

    public ICmpTransactionGrain Transaction(string alias, CmpClientSession session) =>
        Client.GetGrain<ICmpTransactionGrain>(GrainKeys.Transaction(alias, session.TransactionId));

    /// <summary>Sends one request to the session's transaction grain and reads the answer as the client would.</summary>
    public async Task<Exchange> SendAsync(string alias, CmpClientSession session, byte[] request)
    {
        byte[] response = await Transaction(alias, session).HandleAsync(new CmpRequest(alias, request));
        return new Exchange(request, response, session.Read(response));
    }

    /// <summary>The silo-internal side of the session's transaction (snapshot, confirm timeout, approvals).</summary>
    public ITransactionControlGrain Control(string alias, CmpClientSession session) =>
        Internal.GetGrain<ITransactionControlGrain>(GrainKeys.Transaction(alias, session.TransactionId));

    public Task<TransactionSnapshot> SnapshotAsync(string alias, CmpClientSession session) =>
        Control(alias, session).GetSnapshotAsync();

    /// <summary>The record of the one certificate the transaction issued.</summary>
    public async Task<CertificateRecord> IssuedCertificateAsync(string alias, CmpClientSession session)
    {
        TransactionSnapshot snapshot = await SnapshotAsync(alias, session);
        string key = Assert.Single(snapshot.CertificateKeys);
        return await Internal.GetGrain<ICertificateGrain>(key).GetAsync() ?? throw new InvalidOperationException($"no record for {key}");
    }
}

/// <summary>One request and the response to it.</summary>
public sealed record Exchange(byte[] Request, byte[] Response, CmpResponseView View);

/// <summary>
/// System time plus an offset the test moves. Only "now" jumps: timers and stopwatches stay real, so Orleans,
/// which takes the same TimeProvider from the container, keeps working while the CA sees a later clock.
/// </summary>
public sealed class ShiftableClock : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);

    public void Reset() => Interlocked.Exchange(ref _offsetTicks, 0);
}

/// <summary>The development PKI (root, issuing CA, CMP signer, delegated OCSP signer), created once per test run (EC P-256) and kept in memory only.</summary>
internal static class TestPki
{
    private static readonly Lazy<PkiKeyRing> Ring = new(() =>
    {
        string folder = Path.Combine(Path.GetTempPath(), "cmp-grain-tests-" + Guid.NewGuid().ToString("N"));
        try
        {
            return DevelopmentPki.LoadOrCreate(new PkiOptions(), folder, NullLogger.Instance);
        }
        finally
        {
            // The keys are in memory now; nothing needs the files.
            Directory.Delete(folder, recursive: true);
        }
    });

    public static PkiKeyRing KeyRing => Ring.Value;
}

/// <summary>Keeps the certificate audit events (CertificateGrain logs one per issuance step), so a test can count issuances.</summary>
public sealed class AuditLog : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _events = new();

    public IReadOnlyCollection<string> Events => _events;

    public ILogger CreateLogger(string categoryName) =>
        categoryName.EndsWith(".CertificateGrain", StringComparison.Ordinal) ? new Sink(_events) : NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Sink(ConcurrentQueue<string> events) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                events.Enqueue(formatter(state, exception));
            }
        }
    }
}
