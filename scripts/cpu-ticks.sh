# Sourced by the bench scripts: cpu_ticks PID prints the CPU time, in clock ticks
# (getconf CLK_TCK per second), of process PID and then of every PostgreSQL process.
cpu_ticks() {
  local postgres=0 ticks
  for process in $(pgrep -u postgres postgres); do
    ticks=$(awk '{print $14 + $15}' "/proc/$process/stat" 2>/dev/null || echo 0)
    postgres=$((postgres + ticks))
  done
  echo "$(awk '{print $14 + $15}' "/proc/$1/stat") $postgres"
}
