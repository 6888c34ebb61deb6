#include "mps2.h"
#include "platform.h"

void uart_init(uint32_t base, int rx_interrupt) {
  UART_BAUDDIV(base) = 16u; /* QEMU does not model the baud rate; 16 is the smallest legal divider */
  UART_CTRL(base) = UART_CTRL_TX_EN | UART_CTRL_RX_EN | (rx_interrupt ? UART_CTRL_RX_INT_EN : 0u);
  if (rx_interrupt) NVIC_ISER0 = 1u << UART0_RX_IRQ;
}

void uart_write(uint32_t base, const uint8_t *bytes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    /*
     * TX FULL clears once the byte is taken; the host side of QEMU's chardev drains it. Waiting for the rig to
     * read is I/O, not a hung frame loop: the watchdog is stroked meanwhile. (Under -icount a guest spinning here
     * runs its clock at the host's speed: a rig slow to read for some 20 ms of wall time reset the unit with the
     * 100 ms watchdog, in the pipelined differential run.)
     */
    while (UART_STATE(base) & UART_STATE_TX_FULL) watchdog_stroke();
    UART_DATA(base) = bytes[i];
  }
}

int uart_read(uint32_t base, uint8_t *byte) {
  if ((UART_STATE(base) & UART_STATE_RX_FULL) == 0u) return 0;
  *byte = (uint8_t)UART_DATA(base);
  return 1;
}

/* Only wakes the frame loop, which reads the data itself. */
void UART0_RX_Handler(void);
void UART0_RX_Handler(void) { UART_INTSTATUS(UART0_BASE) = UART_INT_RX; }
