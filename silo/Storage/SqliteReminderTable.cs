using Microsoft.Data.Sqlite;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace CmpCluster.Silo.Storage;

/// <summary>
/// Orleans reminder table on the embedded SQLite database, in its own table next to grain state.
/// </summary>
/// <remarks>
/// Rows are scoped by ServiceId (as Orleans' other reminder tables do) so two services that
/// happen to share a file never see each other's reminders. Each row also stores the grain's
/// uniform hash so the reminder service's ring-range queries are an index range scan.
///
/// ETags are fresh GUIDs on every upsert (what Orleans' in-memory table does too): a reminder that is
/// removed and registered again gets an ETag nobody has seen, so a stale RemoveRow cannot delete
/// the new registration. A version counter would restart after the delete and allow that.
/// </remarks>
public sealed class SqliteReminderTable : IReminderTable, IDisposable
{
    private const string Schema = """
        CREATE TABLE IF NOT EXISTS reminders (
            service_id    TEXT    NOT NULL,
            grain_id      TEXT    NOT NULL,
            reminder_name TEXT    NOT NULL,
            grain_hash    INTEGER NOT NULL,
            start_at      INTEGER NOT NULL,
            period        INTEGER NOT NULL,
            etag          TEXT    NOT NULL,
            PRIMARY KEY (service_id, grain_id, reminder_name)
        );
        CREATE INDEX IF NOT EXISTS reminders_by_hash ON reminders (service_id, grain_hash);
        """;

    private const string Columns = "grain_id, reminder_name, start_at, period, etag";

    private const string SelectByGrainSql =
        "SELECT " + Columns + " FROM reminders WHERE service_id = $service AND grain_id = $grain;";

    private const string SelectOneSql =
        "SELECT " + Columns + " FROM reminders WHERE service_id = $service AND grain_id = $grain AND reminder_name = $name;";

    // Ring ranges are (begin, end]. When begin < end that is a plain interval; otherwise the range
    // wraps past uint.MaxValue back to 0 (and begin == end means the whole ring), so it is the
    // union of the two tails. Same predicate as Orleans' SingleRange.InRange.
    private const string SelectRangeSql =
        "SELECT " + Columns + " FROM reminders WHERE service_id = $service AND grain_hash > $begin AND grain_hash <= $end;";

    private const string SelectWrappedRangeSql =
        "SELECT " + Columns + " FROM reminders WHERE service_id = $service AND (grain_hash > $begin OR grain_hash <= $end);";

    private const string UpsertSql = """
        INSERT INTO reminders (service_id, grain_id, reminder_name, grain_hash, start_at, period, etag)
        VALUES ($service, $grain, $name, $hash, $start, $period, $etag)
        ON CONFLICT (service_id, grain_id, reminder_name) DO UPDATE SET
            grain_hash = excluded.grain_hash,
            start_at = excluded.start_at,
            period = excluded.period,
            etag = excluded.etag;
        """;

    private const string DeleteSql =
        "DELETE FROM reminders WHERE service_id = $service AND grain_id = $grain AND reminder_name = $name AND etag = $etag;";

    private const string ClearSql = "DELETE FROM reminders WHERE service_id = $service;";

    private readonly string _serviceId;
    private readonly SqliteDatabase _database;
    private readonly ILogger _logger;
    private int _disposed;

    /// <summary>Creates the table (if needed) in the database described by <paramref name="options"/>.</summary>
    /// <param name="options">Database location and durability; the serializer setting is unused.</param>
    /// <param name="serviceId">Orleans ServiceId that owns the reminders.</param>
    /// <param name="logger">Optional logger.</param>
    public SqliteReminderTable(SqliteStoreOptions options, string serviceId, ILogger<SqliteReminderTable>? logger = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceId);
        _serviceId = serviceId;
        _logger = logger ?? NullLogger<SqliteReminderTable>.Instance;
        _database = SqliteDatabase.Acquire(options);
        try
        {
            _database.RunExclusive(() => _database.ExecuteNonQuery(Schema));
        }
        catch
        {
            _database.Release();
            throw;
        }

        _logger.LogInformation("SQLite reminder table for service {ServiceId} using {Path}", serviceId, _database.Path);
    }

    /// <summary>Factory used by the DI registration.</summary>
    internal static SqliteReminderTable Create(IServiceProvider services)
    {
        var options = services.GetRequiredService<IOptionsMonitor<SqliteStoreOptions>>()
            .Get(SqliteStorageSiloBuilderExtensions.ReminderOptionsName);
        var serviceId = services.GetRequiredService<IOptions<ClusterOptions>>().Value.ServiceId;
        return new SqliteReminderTable(options, serviceId, services.GetService<ILogger<SqliteReminderTable>>());
    }

    /// <inheritdoc />
    public Task StartAsync(CancellationToken cancellationToken = default) => Task.CompletedTask; // Opened in the constructor.

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(GrainId grainId) => ReadRows(grainId, CancellationToken.None);

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(GrainId grainId, CancellationToken cancellationToken)
    {
        var grainKey = grainId.ToString();
        return _database.RunAsync(db =>
        {
            var command = db.Command(SelectByGrainSql, "$service", "$grain");
            command.Parameters[0].Value = _serviceId;
            command.Parameters[1].Value = grainKey;
            return new ReminderTableData(ReadAll(command));
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(uint begin, uint end) => ReadRows(begin, end, CancellationToken.None);

    /// <inheritdoc />
    public Task<ReminderTableData> ReadRows(uint begin, uint end, CancellationToken cancellationToken)
    {
        var sql = begin < end ? SelectRangeSql : SelectWrappedRangeSql;
        return _database.RunAsync(db =>
        {
            var command = db.Command(sql, "$service", "$begin", "$end");
            command.Parameters[0].Value = _serviceId;
            command.Parameters[1].Value = (long)begin; // uint fits in SQLite's signed 64-bit INTEGER.
            command.Parameters[2].Value = (long)end;
            return new ReminderTableData(ReadAll(command));
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        ReadRow(grainId, reminderName, CancellationToken.None);

    /// <inheritdoc />
    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var grainKey = grainId.ToString();
        return _database.RunAsync(db =>
        {
            var command = db.Command(SelectOneSql, "$service", "$grain", "$name");
            command.Parameters[0].Value = _serviceId;
            command.Parameters[1].Value = grainKey;
            command.Parameters[2].Value = reminderName;
            var rows = ReadAll(command);
            return rows.Count == 0 ? null : rows[0];
        }, cancellationToken);
    }

    /// <inheritdoc />
    public Task<string?> UpsertRow(ReminderEntry entry) => UpsertRow(entry, CancellationToken.None);

    /// <inheritdoc />
    public async Task<string?> UpsertRow(ReminderEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(entry);
        ArgumentNullException.ThrowIfNull(entry.ReminderName);
        var etag = Guid.NewGuid().ToString("N");
        var grainKey = entry.GrainId.ToString();
        var hash = (long)entry.GrainId.GetUniformHashCode();

        await _database.RunAsync(db =>
        {
            var command = db.Command(UpsertSql, "$service", "$grain", "$name", "$hash", "$start", "$period", "$etag");
            command.Parameters[0].Value = _serviceId;
            command.Parameters[1].Value = grainKey;
            command.Parameters[2].Value = entry.ReminderName;
            command.Parameters[3].Value = hash;
            command.Parameters[4].Value = ToUtcTicks(entry.StartAt);
            command.Parameters[5].Value = entry.Period.Ticks;
            command.Parameters[6].Value = etag;
            return command.ExecuteNonQuery();
        }, cancellationToken).ConfigureAwait(false);

        // Mirror the in-memory table: the caller's entry now carries the stored ETag.
        entry.ETag = etag;
        return etag;
    }

    /// <inheritdoc />
    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        RemoveRow(grainId, reminderName, eTag, CancellationToken.None);

    /// <inheritdoc />
    public async Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reminderName);
        var grainKey = grainId.ToString();
        var removed = await _database.RunAsync(db =>
        {
            var command = db.Command(DeleteSql, "$service", "$grain", "$name", "$etag");
            command.Parameters[0].Value = _serviceId;
            command.Parameters[1].Value = grainKey;
            command.Parameters[2].Value = reminderName;
            command.Parameters[3].Value = (object?)eTag ?? DBNull.Value; // NULL never matches: false.
            return command.ExecuteNonQuery() == 1;
        }, cancellationToken).ConfigureAwait(false);

        if (!removed)
        {
            _logger.LogDebug("RemoveRow found no reminder {ReminderName} of {GrainId} with ETag {ETag}", reminderName, grainId, eTag);
        }

        return removed;
    }

    /// <inheritdoc />
    public Task TestOnlyClearTable() => TestOnlyClearTable(CancellationToken.None);

    /// <inheritdoc />
    public Task TestOnlyClearTable(CancellationToken cancellationToken) =>
        _database.RunAsync(db =>
        {
            var command = db.Command(ClearSql, "$service");
            command.Parameters[0].Value = _serviceId;
            return command.ExecuteNonQuery();
        }, cancellationToken);

    /// <summary>Releases this table's hold on the database file.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _database.Release();
        }
    }

    private static List<ReminderEntry> ReadAll(SqliteCommand command)
    {
        var entries = new List<ReminderEntry>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            entries.Add(new ReminderEntry
            {
                GrainId = GrainId.Parse(reader.GetString(0)),
                ReminderName = reader.GetString(1),
                StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                ETag = reader.GetString(4),
            });
        }

        return entries;
    }

    // Reminder times are UTC throughout Orleans; a Local time is converted, an Unspecified one is
    // taken to already be UTC (converting it would shift it by the machine's offset).
    private static long ToUtcTicks(DateTime value) =>
        value.Kind == DateTimeKind.Local ? value.ToUniversalTime().Ticks : value.Ticks;
}
